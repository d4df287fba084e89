// bench/api/experiment-sync.mjs - drives stripe-experiment-sync for bench/api.sh.
//
//   node experiment-sync.mjs migrate DATABASE_URL SPEC_PATH
//   STRIPE_KEY=sk_test_... node experiment-sync.mjs sync DATABASE_URL MOCK_PORT [RATE_LIMIT]
//
// migrate: the package's migrations; its tables come from Stripe's OpenAPI
// spec, which it would download from GitHub; openApiSpecPath points it at
// SPEC_PATH instead (bench/api/openapi-min.json: the customer object only).
// bench/api.sh runs it untimed on every fresh database.
// sync: StripeSync.create() with stripeAccountId (registers the account row
// without calling GET /v1/account, which the mock does not have), the Stripe
// client pointed at the mock through its _api settings (no host option), then
// fullSync(["customer"], segmentedSync=false, 50 workers, RATE_LIMIT requests/s,
// no progress monitor), as the package's CLI `sync customer` does but for
// segmentedSync (its time-range chunking probes the API with created[lte]
// filters that the mock ignores). The CLI's default RATE_LIMIT is 25.
// Prints {"synced":N}.
import { StripeSync, runMigrations } from "stripe-experiment-sync";

const [mode, databaseUrl, arg3, rateArg] = process.argv.slice(2);
const key = process.env.STRIPE_KEY;

const logger = {
	info() {},
	warn: (...a) => console.error("experiment-sync warn:", ...a),
	error: (...a) => console.error("experiment-sync error:", ...a),
};

async function sync(mockPort, rateLimit) {
	const sync = await StripeSync.create({
		poolConfig: { connectionString: databaseUrl, max: 10, keepAlive: true },
		stripeSecretKey: key,
		stripeAccountId: "acct_bench",
		stripeApiVersion: "2020-08-27",
		backfillRelatedEntities: false,
		logger,
	});
	Object.assign(sync.stripe._api, { host: "127.0.0.1", port: mockPort, protocol: "http" });
	const res = await sync.fullSync(["customer"], false, 50, rateLimit, false);
	await sync.close();
	if (res.errors.length)
		throw new Error(`fullSync reported errors: ${JSON.stringify(res.errors)}`);
	return res.totalSynced;
}

async function main() {
	if (mode === "migrate" && databaseUrl && arg3) {
		await runMigrations({ databaseUrl, openApiSpecPath: arg3, stripeApiVersion: "2020-08-27", logger });
	} else if (mode === "sync" && databaseUrl && arg3 && key) {
		const synced = await sync(Number(arg3), Number(rateArg || 25));
		console.log(JSON.stringify({ synced }));
	} else {
		console.error("usage: node experiment-sync.mjs migrate DATABASE_URL SPEC_PATH | STRIPE_KEY=... node experiment-sync.mjs sync DATABASE_URL MOCK_PORT [RATE_LIMIT]");
		process.exit(2);
	}
}

main().catch((err) => {
	console.error(`experiment-sync: ${err.stack || err}`);
	process.exit(1);
});
