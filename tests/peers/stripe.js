#!/usr/bin/env node
// stripe.js - stripe-stateful-mock on 127.0.0.1 only, with a request counter.
//
//   node stripe.js PORT
//
// The mock's own CLI listens on every interface; this calls its exported
// createExpressApp() and listens on 127.0.0.1. Every request is counted
// (before the mock's auth check), so a test can tell how many requests ferry
// made and what it asked: GET /__ferry/requests -> {"requests": N, "urls":
// ["GET /v1/customers?limit=100", ...]} (not counted itself);
// POST /__ferry/requests/reset starts again from 0.
'use strict';

const http = require('http');
const mock = require('stripe-stateful-mock');

const port = parseInt(process.argv[2], 10);
if (!(port > 0)) {
	process.stderr.write('usage: stripe.js PORT\n');
	process.exit(2);
}
process.env.LOG_LEVEL = process.env.LOG_LEVEL || 'warn';

const app = mock.createExpressApp();
let requests = 0;
let urls = [];

const server = http.createServer((req, res) => {
	if (req.url.startsWith('/__ferry/requests')) {
		if (req.method === 'POST') {
			requests = 0;
			urls = [];
		}
		res.setHeader('Content-Type', 'application/json');
		res.end(JSON.stringify({ requests, urls }));
		return;
	}
	requests++;
	if (urls.length < 10000)
		urls.push(`${req.method} ${req.url}`);
	app(req, res);
});
server.listen(port, '127.0.0.1', () => {
	console.log(`stripe-stateful-mock on http://127.0.0.1:${port}/v1`);
});
