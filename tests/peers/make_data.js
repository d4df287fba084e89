#!/usr/bin/env node
// make_data.js - writes the data files the API test peers serve, deterministic
// so that a failing test reproduces.
//
//   node make_data.js posts N  > db.json      json-server: {"posts": [...]}
//   node make_data.js users N  > data.json    json-graphql-server: {"users": [...]}
//
// posts: id (integer), title (text), views (integer), score (number),
// published (boolean), updated_at (ISO 8601, one minute apart, ascending with
// id), author (object), tags (array). users: id, name, email, age, active,
// team (text), updated_at.
'use strict';

const kind = process.argv[2];
const n = parseInt(process.argv[3] || '0', 10);
if (!['posts', 'users'].includes(kind) || !(n >= 0)) {
	process.stderr.write('usage: make_data.js posts|users N\n');
	process.exit(2);
}

// 2024-01-01T00:00:00Z + i minutes, without milliseconds: json-server's
// FIELD_gte compares strings, so every stamp has the same shape.
function stamp(i) {
	return new Date(Date.UTC(2024, 0, 1, 0, 0, 0) + i * 60000).toISOString().replace('.000Z', 'Z');
}

const rows = [];
for (let i = 1; i <= n; i++) {
	if (kind === 'posts') {
		rows.push({
			id: i,
			title: `post ${i}`,
			views: i * 10,
			score: i + 0.5,
			published: i % 2 === 0,
			updated_at: stamp(i),
			author: { name: `author ${i % 7}`, id: i % 7 },
			tags: [`t${i % 3}`, `t${i % 5}`],
		});
	} else {
		rows.push({
			id: i,
			name: `user ${i}`,
			email: `user${i}@example.com`,
			age: 20 + (i % 40),
			active: i % 3 !== 0,
			team: ['red', 'green', 'blue'][i % 3],
			updated_at: stamp(i),
		});
	}
}
process.stdout.write(JSON.stringify({ [kind]: rows }, null, 1) + '\n');
