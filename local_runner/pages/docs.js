// The explorer: Swagger UI over this runner's copy of docs/openapi.json, with the local pool's
// read-and-create client filled into Authorize (its id and secret are throwaway, this run's only).
(async () => {
  const ui = SwaggerUIBundle({
    url: "/_local/openapi.json",
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: false,
    tryItOutEnabled: true,
    displayOperationId: true,
  });
  window.ui = ui;
  const { clients } = await (await fetch("/_local/clients")).json();
  const client = clients.find((c) => c.scopes.includes("users/read") && c.scopes.includes("users/create")) ?? clients[0];
  ui.initOAuth({ clientId: client.client_id, clientSecret: client.client_secret, scopes: client.scopes });
  document.getElementById("hint").textContent =
    `Authorize with the local pool's client ${client.name} (filled in: ${client.scopes.join(", ")}), then Try it out.`;
})();
