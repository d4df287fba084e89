// bench/api/seed.cjs - fills the Stripe mock with customers for bench/api.sh.
//
//   STRIPE_KEY=sk_test_... node seed.cjs PORT COUNT
//
// POST /v1/customers COUNT times, 32 requests in flight over keep-alive
// connections, each customer with an email, a description, an address and
// metadata (the fields the mock keeps; it ignores name and phone). Prints the
// number created. The key comes from the environment, never from argv, so it
// does not show in process listings or logs.
"use strict";

const http = require("http");

const port = Number(process.argv[2]);
const count = Number(process.argv[3]);
const key = process.env.STRIPE_KEY;
if (!Number.isInteger(port) || !Number.isInteger(count) || count < 1 || !key) {
	console.error("usage: STRIPE_KEY=sk_test_... node seed.cjs PORT COUNT");
	process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
const cities = ["Milano", "Roma", "Torino", "Zurich", "Geneva", "Berlin", "Paris", "Lyon"];

function body(i) {
	const n = String(i).padStart(6, "0");
	return new URLSearchParams({
		email: `customer${n}@example.com`,
		description: `Benchmark customer ${n}, created by bench/api/seed.cjs`,
		"address[line1]": `${i % 400 + 1} Via del Benchmark`,
		"address[city]": cities[i % cities.length],
		"address[postal_code]": String(10000 + (i % 89999)),
		"address[country]": i % 2 ? "IT" : "CH",
		"metadata[seq]": String(i),
		"metadata[plan]": i % 3 ? "pro" : "free",
		"metadata[source]": "bench",
	}).toString();
}

function post(i) {
	const data = body(i);
	return new Promise((resolve, reject) => {
		const req = http.request({
			host: "127.0.0.1", port, path: "/v1/customers", method: "POST", agent,
			headers: {
				Authorization: `Bearer ${key}`,
				"Content-Type": "application/x-www-form-urlencoded",
				"Content-Length": Buffer.byteLength(data),
			},
		}, (res) => {
			const chunks = [];
			res.on("data", (c) => chunks.push(c));
			res.on("end", () => {
				if (res.statusCode !== 200)
					reject(new Error(`POST /v1/customers #${i}: HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 200)}`));
				else
					resolve();
			});
		});
		req.on("error", reject);
		req.end(data);
	});
}

async function main() {
	let next = 1;
	async function worker() {
		while (next <= count)
			await post(next++);
	}
	await Promise.all(Array.from({ length: 32 }, worker));
	agent.destroy();
	console.log(count);
}

main().catch((err) => {
	console.error(`seed: ${err.message}`);
	process.exit(1);
});
