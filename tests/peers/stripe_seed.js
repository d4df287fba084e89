#!/usr/bin/env node
// stripe_seed.js - creates objects in a running stripe-stateful-mock through
// its API, the way a Stripe client would (form-encoded POSTs, bearer key).
//
//   node stripe_seed.js BASE_URL CUSTOMERS [PRODUCTS] [CHARGES]
//
// BASE_URL is http://127.0.0.1:PORT/v1. Customers are "customer N" with
// email customerN@example.com and metadata {seq: N}; each product gets a
// monthly plan; charges go to the first customers with test card tok_visa.
// Prints the ids it created as JSON on stdout. The key is a test key the mock
// accepts (any sk_test_...).
'use strict';

const http = require('http');

const [base, nCustomers, nProducts = '0', nCharges = '0'] = process.argv.slice(2);
if (!base || !(parseInt(nCustomers, 10) >= 0)) {
	process.stderr.write('usage: stripe_seed.js BASE_URL CUSTOMERS [PRODUCTS] [CHARGES]\n');
	process.exit(2);
}
const KEY = 'sk_test_ferryseed';
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function post(path, form) {
	const body = new URLSearchParams(form).toString();
	const url = new URL(base.replace(/\/$/, '') + path);
	return new Promise((resolve, reject) => {
		const req = http.request(url, {
			method: 'POST',
			agent,
			headers: {
				Authorization: `Bearer ${KEY}`,
				'Content-Type': 'application/x-www-form-urlencoded',
				'Content-Length': Buffer.byteLength(body),
			},
		}, (res) => {
			let data = '';
			res.setEncoding('utf8');
			res.on('data', (c) => { data += c; });
			res.on('end', () => {
				if (res.statusCode !== 200)
					return reject(new Error(`POST ${path}: HTTP ${res.statusCode}: ${data}`));
				resolve(JSON.parse(data));
			});
		});
		req.on('error', reject);
		req.end(body);
	});
}

async function main() {
	const out = { customers: [], products: [], plans: [], charges: [] };
	// One at a time: the mock stamps `created` in seconds and lists in
	// creation order; sequential creation keeps that order well defined.
	for (let i = 1; i <= parseInt(nCustomers, 10); i++) {
		const c = await post('/customers', {
			email: `customer${i}@example.com`,
			description: `customer ${i}`,
			'metadata[seq]': String(i),
		});
		out.customers.push(c.id);
	}
	for (let i = 1; i <= parseInt(nProducts, 10); i++) {
		const p = await post('/products', { name: `product ${i}` });
		out.products.push(p.id);
		const plan = await post('/plans', {
			product: p.id, amount: String(100 * i), currency: 'eur', interval: 'month',
		});
		out.plans.push(plan.id);
	}
	for (let i = 1; i <= parseInt(nCharges, 10); i++) {
		const ch = await post('/charges', {
			amount: String(1000 + i), currency: 'eur', source: 'tok_visa',
			description: `charge ${i}`,
		});
		out.charges.push(ch.id);
	}
	process.stdout.write(JSON.stringify(out) + '\n');
	agent.destroy();
}

main().catch((e) => {
	process.stderr.write(`stripe_seed.js: ${e.message}\n`);
	process.exit(1);
});
