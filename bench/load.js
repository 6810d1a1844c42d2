// autocannon driven from its API: each POST gets its own email, and the body's
// Content-Length is computed per request (the CLI's -I id replacement keeps the template's).
// usage: node bench/load.js URL CONNECTIONS SECONDS TOKEN get|post
const autocannon = require("autocannon");

const [url, connections, seconds, token, mode] = process.argv.slice(2);
let sequence = 0;
const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
const request = mode === "post"
  ? {
      method: "POST",
      headers,
      setupRequest: (req) => ({
        ...req,
        body: JSON.stringify({ name: "Bench User", email: `bench-${process.pid}-${sequence++}@example.com` }),
      }),
    }
  : { method: "GET", headers };

autocannon(
  { url, connections: Number(connections), duration: Number(seconds), requests: [request] },
  (error, result) => {
    if (error) {
      console.error(error.message);
      process.exit(1);
    }
    process.stdout.write(JSON.stringify(result));
  },
);
