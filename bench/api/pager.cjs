// bench/api/pager.cjs - the paging anchor of bench/api.sh.
//
//   STRIPE_KEY=sk_test_... node pager.cjs BASE_URL [LIMIT]
//
// Reads BASE_URL/customers?limit=LIMIT&starting_after=<last id> page after
// page over one keep-alive connection until has_more is false, parses each
// page (JSON.parse: it needs the last id to ask for the next page) and throws
// the records away. This is the floor for any client of the same server:
// sequential requests, no database. Prints {"records":N,"pages":P,"bytes":B}.
"use strict";

const http = require("http");

const base = process.argv[2];
const limit = Number(process.argv[3] || 100);
const key = process.env.STRIPE_KEY || "";
if (!base || !/^http:\/\//.test(base)) {
	console.error("usage: STRIPE_KEY=sk_test_... node pager.cjs http://127.0.0.1:PORT/v1 [LIMIT]");
	process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function get(url) {
	return new Promise((resolve, reject) => {
		http.get(url, { agent, headers: { Authorization: `Bearer ${key}` } }, (res) => {
			const chunks = [];
			res.on("data", (c) => chunks.push(c));
			res.on("end", () => {
				const buf = Buffer.concat(chunks);
				if (res.statusCode !== 200)
					reject(new Error(`GET ${url}: HTTP ${res.statusCode}: ${buf.toString().slice(0, 200)}`));
				else
					resolve(buf);
			});
		}).on("error", reject);
	});
}

async function main() {
	let records = 0, pages = 0, bytes = 0, after = null;
	for (;;) {
		let url = `${base}/customers?limit=${limit}`;
		if (after)
			url += `&starting_after=${encodeURIComponent(after)}`;
		const buf = await get(url);
		const page = JSON.parse(buf);
		pages++;
		bytes += buf.length;
		records += page.data.length;
		if (!page.has_more || page.data.length === 0)
			break;
		after = page.data[page.data.length - 1].id;
	}
	agent.destroy();
	console.log(JSON.stringify({ records, pages, bytes }));
}

main().catch((err) => {
	console.error(`pager: ${err.message}`);
	process.exit(1);
});
