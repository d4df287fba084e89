// bench/api/mock.cjs - the Stripe mock of bench/api.sh, on loopback only.
//
//   node mock.cjs PORT
//
// stripe-stateful-mock's own entry point listens on every interface; this
// starts its Express app on 127.0.0.1 instead, prints "ready PORT" on stdout
// once it accepts connections, and runs until it is sent SIGTERM.
"use strict";

const log = require("loglevel");
const { createExpressApp } = require("stripe-stateful-mock");

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
	console.error("usage: node mock.cjs PORT");
	process.exit(2);
}
log.setLevel("silent");

const server = createExpressApp().listen(port, "127.0.0.1", () => {
	console.log(`ready ${port}`);
});
server.keepAliveTimeout = 60000;
server.on("error", (err) => {
	console.error(`mock: cannot listen on 127.0.0.1:${port}: ${err.message}`);
	process.exit(1);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
