// bench/api/replit-sync.mjs - drives stripe-replit-sync for bench/api.sh.
//
//   node replit-sync.mjs migrate DATABASE_URL
//   STRIPE_KEY=sk_test_... node replit-sync.mjs sync DATABASE_URL MOCK_PORT
//
// migrate: the package's own migrations (schema "stripe"); bench/api.sh runs
// it untimed on every fresh database, as a user would once.
// sync: a StripeSync as its README builds it, pointed at the mock (the package
// has no host option, so the Stripe client's host, port and protocol are set
// on its _api settings), the account row registered first (the mock has no
// GET /v1/account, which the package would otherwise call to learn the
// account id), then syncBackfill({object: "customer"}): list all customers,
// 100 a page, and upsert them. Prints {"synced":N}.
import { StripeSync, runMigrations, hashApiKey } from "stripe-replit-sync";

const [mode, databaseUrl, mockPort] = process.argv.slice(2);
const key = process.env.STRIPE_KEY;

// warnings and errors to stderr, the per-batch info lines dropped
const logger = {
	info() {},
	warn: (...a) => console.error("replit-sync warn:", ...a),
	error: (...a) => console.error("replit-sync error:", ...a),
};

async function sync() {
	const sync = new StripeSync({
		poolConfig: { connectionString: databaseUrl },
		stripeSecretKey: key,
		stripeApiVersion: "2020-08-27",
		logger,
	});
	Object.assign(sync.stripe._api, { host: "127.0.0.1", port: Number(mockPort), protocol: "http" });
	await sync.upsertAccount({ id: "acct_bench", object: "account" }, hashApiKey(key));
	const res = await sync.syncBackfill({ object: "customer" });
	await sync.postgresClient.pool.end();
	return res.customers;
}

async function main() {
	if (mode === "migrate" && databaseUrl) {
		await runMigrations({ databaseUrl, logger });
	} else if (mode === "sync" && databaseUrl && mockPort && key) {
		const { synced } = await sync();
		console.log(JSON.stringify({ synced }));
	} else {
		console.error("usage: node replit-sync.mjs migrate DATABASE_URL | STRIPE_KEY=... node replit-sync.mjs sync DATABASE_URL MOCK_PORT");
		process.exit(2);
	}
}

main().catch((err) => {
	console.error(`replit-sync: ${err.stack || err}`);
	process.exit(1);
});
