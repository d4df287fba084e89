#!/usr/bin/env node
// graphql.js - json-graphql-server on 127.0.0.1 only, with a request log.
//
//   node graphql.js PORT DATA.json
//
// Serves the GraphQL API json-graphql-server derives from DATA.json at / (for
// {"users": [...]}: allUsers(page, perPage, sortField, sortOrder, filter),
// User(id), _allUsersMeta(filter) { count }, mutations). Each POST is counted
// and its variables kept, so a test can check how ferry paged:
// GET /__ferry/requests -> {"requests": N, "variables": [{...}, ...]}.
'use strict';

const path = require('path');
const { jsonGraphqlExpress } = require('json-graphql-server/node');
// The express json-graphql-server was built against (stripe-stateful-mock has another).
const express = require(require.resolve('express', { paths: [require.resolve('json-graphql-server/node')] }));

const [portArg, dataArg] = process.argv.slice(2);
const port = parseInt(portArg, 10);
if (!(port > 0) || !dataArg) {
	process.stderr.write('usage: graphql.js PORT DATA.json\n');
	process.exit(2);
}
const data = require(path.resolve(dataArg));

const seen = [];
const app = express();
app.get('/__ferry/requests', (req, res) => res.json({ requests: seen.length, variables: seen }));
app.use(express.json({ limit: '1mb' }));
app.use((req, res, next) => {
	if (req.method === 'POST' && seen.length < 10000)
		seen.push((req.body && req.body.variables) || {});
	next();
});
app.use('/', jsonGraphqlExpress(data));
app.listen(port, '127.0.0.1', () => {
	console.log(`json-graphql-server on http://127.0.0.1:${port}/`);
});
