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
//
// It also answers Stripe's DELETE /v1/customers/ID, which the mock (0.0.16)
// does not route: the customer is removed from the mock's own store and the
// answer is Stripe's {"id": ID, "object": "customer", "deleted": true}; a
// missing id gives Stripe's 404 resource_missing, a key that is not sk_test_...
// a 401. A deleted customer is no longer listed.
'use strict';

const http = require('http');
const mock = require('stripe-stateful-mock');
const { AccountData } = require('stripe-stateful-mock/dist/api/AccountData');

const port = parseInt(process.argv[2], 10);
if (!(port > 0)) {
	process.stderr.write('usage: stripe.js PORT\n');
	process.exit(2);
}
process.env.LOG_LEVEL = process.env.LOG_LEVEL || 'warn';

// The mock keeps each kind of object in an AccountData store private to its
// module; every store that is written to is remembered here, so a customer can
// be found and removed.
const stores = new Set();
const put = AccountData.prototype.put;
AccountData.prototype.put = function (accountId, obj) {
	stores.add(this);
	return put.call(this, accountId, obj);
};

function send(res, status, body) {
	res.statusCode = status;
	res.setHeader('Content-Type', 'application/json');
	res.end(JSON.stringify(body));
}

function deleteCustomer(req, res, id) {
	const auth = req.headers.authorization || '';
	if (!/^Bearer sk_test_/.test(auth))
		return send(res, 401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
	const account = req.headers['stripe-account'] || 'acct_default';
	for (const store of stores) {
		const obj = store.get(account, id);
		if (obj && obj.object === 'customer') {
			store.remove(account, id);
			return send(res, 200, { id, object: 'customer', deleted: true });
		}
	}
	send(res, 404, {
		error: {
			code: 'resource_missing', param: 'id', type: 'invalid_request_error',
			message: `No such customer: ${id}`,
		},
	});
}

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
	const del = req.method === 'DELETE' && /^\/v1\/customers\/([A-Za-z0-9_]+)\/?(\?.*)?$/.exec(req.url);
	if (del)
		return deleteCustomer(req, res, del[1]);
	app(req, res);
});
server.listen(port, '127.0.0.1', () => {
	console.log(`stripe-stateful-mock on http://127.0.0.1:${port}/v1`);
});
