// Drives the runner's pages in a real headless Chromium (Debian's, through playwright-core) as a
// person would, and prints one JSON object: what each step showed. Screenshots go to SHOTS.
//   node tools/page_driver.mjs explorer URL SHOTS EMAIL NAME   authorise, create a user, read its welcome email
//   node tools/page_driver.mjs redrive URL SHOTS               the dead-letter count and the redrive button
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [scenario, url, shots, email, name] = process.argv.slice(2);
const TIMEOUT = 30_000;
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  // This machine's network is closed: no background calls home, no sandbox as root.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const seen = { console_errors: [], dialogs: [] };
page.on("console", (message) => { if (message.type() === "error") seen.console_errors.push(message.text()); });
page.on("pageerror", (error) => seen.console_errors.push(String(error)));
page.on("dialog", async (dialog) => { seen.dialogs.push(dialog.message()); await dialog.dismiss(); });
page.setDefaultTimeout(TIMEOUT);

async function explorer() {
  await page.goto(`${url}/_local/docs/`);
  const operation = page.locator("#operations-users-createUser");
  await operation.waitFor();
  seen.title = (await page.locator(".info .title").innerText()).split("\n")[0].trim();
  seen.operations = await page.locator(".opblock-summary-operation-id").allInnerTexts();

  // Authorize: the local pool's client is filled in; tick its scopes and authorise.
  await page.locator(".auth-wrapper .authorize").click();
  const dialog = page.locator(".modal-ux");
  await dialog.waitFor();
  seen.client_id_filled = (await dialog.locator("input[type=text]").first().inputValue()) !== "";
  for (const box of await dialog.locator(".scopes input[type=checkbox]").all()) {
    if (!(await box.isChecked())) await box.check({ force: true });
  }
  await dialog.locator("button.authorize").click();
  await dialog.locator("button", { hasText: "Logout" }).waitFor();
  seen.authorised = true;
  await dialog.locator("button.btn-done, .close-modal").first().click();

  // Try it out: POST /users with a body of our own, then Execute.
  await operation.locator(".opblock-summary").click();
  const tryOut = operation.locator(".try-out__btn");
  if ((await tryOut.innerText()).trim() === "Try it out") await tryOut.click();
  await operation.locator("textarea.body-param__text").fill(JSON.stringify({ name, email }, null, 2));
  await operation.locator("button.execute").click();
  const status = operation.locator(".live-responses-table .response .response-col_status").first();
  await status.waitFor();
  seen.create_status = (await status.innerText()).trim();
  seen.create_body = await operation.locator(".live-responses-table .response .microlight").first().innerText();
  await page.screenshot({ path: `${shots}/api-explorer.png`, fullPage: true });

  // The mailbox: the welcome email arrives, as its recipient reads it.
  await page.goto(`${url}/_local/mailbox/`);
  const mine = page.locator(".email", { has: page.locator(".to", { hasText: email }) });
  await mine.waitFor({ timeout: TIMEOUT });
  seen.email = {
    from: await mine.locator(".from").innerText(),
    to: await mine.locator(".to").innerText(),
    subject: await mine.locator(".subject").innerText(),
    body: await mine.locator(".body").innerText(),
    elements_in_body: await mine.locator(".body *").count(),
  };
  seen.queues = Object.fromEntries(await page.locator("#queues tbody tr").evaluateAll(
    (rows) => rows.map((row) => [row.dataset.queue, [...row.cells].slice(1).map((c) => Number(c.textContent))])));
  await page.screenshot({ path: `${shots}/mailbox.png`, fullPage: true });
}

async function redrive() {
  await page.goto(`${url}/_local/mailbox/`);
  const dlq = page.locator("#queues tbody tr[data-queue$='-dlq']").first();
  await dlq.waitFor();
  seen.dead_letters_shown = Number(await dlq.locator("td").nth(1).innerText());
  seen.empty_shown = await page.locator("#empty").isVisible();
  await page.screenshot({ path: `${shots}/mailbox-dead-letter.png`, fullPage: true });
  await page.locator("#redrive").click();
  const result = page.locator("#redrive-result");
  await result.filter({ hasText: "moved" }).waitFor();
  seen.redrive_result = await result.innerText();
}

try {
  await (scenario === "redrive" ? redrive() : explorer());
} catch (error) {
  seen.error = String(error);
  await page.screenshot({ path: `${shots}/${scenario}-failure.png`, fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
