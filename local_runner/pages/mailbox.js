// The mailbox: every welcome email SES accepted, newest first, as its recipient reads it (plain
// text), and the queues' depths; refreshed every second. Text only: names users typed stay text.
const REFRESH_MS = 1000;

async function json(path, options) {
  const reply = await fetch(path, options);
  if (!reply.ok) throw new Error(`${path}: ${reply.status}`);
  return reply.json();
}

function showQueues(queues) {
  const rows = Object.entries(queues).map(([name, depth]) => {
    const row = document.createElement("tr");
    row.dataset.queue = name;
    for (const value of [name, depth.visible, depth.in_flight]) {
      const cell = document.createElement("td");
      cell.textContent = String(value);
      row.append(cell);
    }
    return row;
  });
  document.querySelector("#queues tbody").replaceChildren(...rows);
}

function showEmails(emails) {
  const template = document.getElementById("email");
  const items = emails.slice().reverse().map((email) => {
    const item = template.content.firstElementChild.cloneNode(true);
    item.querySelector(".from").textContent = email.sender;
    item.querySelector(".to").textContent = email.to.join(", ");
    item.querySelector(".subject").textContent = email.subject;
    item.querySelector(".date").textContent = new Date(email.sent_at).toUTCString();
    item.querySelector(".body").textContent = email.body;
    return item;
  });
  document.getElementById("emails").replaceChildren(...items);
  document.getElementById("count").textContent = `(${emails.length})`;
  document.getElementById("empty").hidden = emails.length > 0;
}

async function refresh() {
  try {
    const [queues, outbox] = await Promise.all([json("/_local/queues"), json("/_local/outbox")]);
    showQueues(queues);
    showEmails(outbox.emails);
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

document.getElementById("redrive").addEventListener("click", async () => {
  const { moved } = await json("/_local/redrive", { method: "POST" });
  const total = Object.values(moved).reduce((sum, n) => sum + n, 0);
  document.getElementById("redrive-result").textContent = `${total} message(s) moved back to their queues`;
});

refresh();
