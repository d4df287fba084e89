// bench/api/gen-pages.cjs - static Stripe list pages for the nginx benchmark.
//
//   node gen-pages.cjs DIR [RECORDS] [PER_PAGE]      (100000 records, 100 a page)
//
// Writes DIR/first.json (customers cus_000001..cus_000100) and, for every
// later page, DIR/<id of the record before it>.json: DIR/cus_000100.json holds
// cus_000101..cus_000200, and so on. Each page has Stripe's list shape,
// {"object":"list","url":"/v1/customers","has_more":...,"data":[...]}, with
// has_more false on the last one only, so that nginx can answer
// GET /v1/customers?limit=100&starting_after=<id> with the file named <id>.
// Records look like Stripe customers (~520 bytes each: nested address and
// metadata objects, nulls, booleans, an array), newest first as Stripe lists
// them. Prints {"records":N,"pages":P,"bytes":B}.
"use strict";

const fs = require("fs");
const path = require("path");

const dir = process.argv[2];
const total = Number(process.argv[3] || 100000);
const perPage = Number(process.argv[4] || 100);
if (!dir || !Number.isInteger(total) || !Number.isInteger(perPage) || total < 1 || perPage < 1) {
	console.error("usage: node gen-pages.cjs DIR [RECORDS] [PER_PAGE]");
	process.exit(2);
}

const cities = [["Milano", "IT", "MI", "it"], ["Roma", "IT", "RM", "it"], ["Zurich", "CH", "ZH", "de"],
	["Geneva", "CH", "GE", "fr"], ["Berlin", "DE", "BE", "de"], ["Lyon", "FR", "ARA", "fr"]];
const plans = ["free", "starter", "pro", "enterprise"];
const base = 1700000000;

function customer(i) {
	const n = String(i).padStart(6, "0");
	const [city, country, state, locale] = cities[i % cities.length];
	return {
		id: `cus_${n}`,
		object: "customer",
		address: {
			city, country, line1: `${i % 997 + 1} Via Roma`,
			line2: i % 5 ? null : `Scala ${i % 7}`, postal_code: String(10000 + i % 89999), state,
		},
		balance: i % 11 ? 0 : -(i % 5000),
		created: base + total - i,
		currency: country === "CH" ? "chf" : "eur",
		delinquent: i % 17 === 0,
		description: `Benchmark customer ${n}`,
		discount: null,
		email: `customer${n}@example.com`,
		invoice_prefix: `B${n}`,
		livemode: false,
		metadata: { plan: plans[i % plans.length], seq: String(i) },
		name: `Customer ${n}`,
		phone: `+39 02 ${n}`,
		preferred_locales: [locale],
		shipping: null,
		tax_exempt: "none",
	};
}

fs.mkdirSync(dir, { recursive: true });
let pages = 0, bytes = 0;
for (let first = 1; first <= total; first += perPage) {
	const last = Math.min(first + perPage - 1, total);
	const data = [];
	for (let i = first; i <= last; i++)
		data.push(customer(i));
	const page = JSON.stringify({ object: "list", url: "/v1/customers", has_more: last < total, data });
	const name = first === 1 ? "first" : `cus_${String(first - 1).padStart(6, "0")}`;
	fs.writeFileSync(path.join(dir, `${name}.json`), page);
	pages++;
	bytes += page.length;
}
console.log(JSON.stringify({ records: total, pages, bytes }));
