#!/usr/bin/env bash
# ferry's main job on the embedded default: a SQLite state store and a SQLite
# destination. Builds ferry (installing packages if missing), creates a sample
# shop database, mirrors it fully, changes a few rows, syncs incrementally, and
# shows where the data went. Everything lands in ./ferry-demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
FERRY="$PWD/build/ferry"
DEMO="$PWD/ferry-demo"
rm -rf "$DEMO" && mkdir -p "$DEMO"

export FERRY_DATABASE_URL="$DEMO/ferry.db"
export FERRY_ENCRYPTION_KEY="$("$FERRY" keygen)"
echo "$FERRY_ENCRYPTION_KEY" > "$DEMO/encryption.key"
chmod 600 "$DEMO/encryption.key"

echo "== a sample source: $DEMO/shop.db (customers, orders)"
sqlite3 "$DEMO/shop.db" <<'SQL'
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, country TEXT,
                        created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, amount NUMERIC NOT NULL,
                     paid BOOLEAN NOT NULL, updated_at DATETIME NOT NULL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
INSERT INTO customers SELECT i, 'Customer ' || i, 'c' || i || '@example.com',
  CASE i % 3 WHEN 0 THEN 'IT' WHEN 1 THEN 'CH' ELSE 'DE' END,
  datetime('2024-01-01', '+' || i || ' minutes'), datetime('2024-01-01', '+' || i || ' minutes') FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO orders SELECT i, 1 + i % 5000, printf('%d.%02d', i % 500, i % 100), i % 2,
  datetime('2024-01-01', '+' || i || ' minutes') FROM n;
SQL

echo "== register the source and the destination"
"$FERRY" source add shop --type sqlite --set path="$DEMO/shop.db" \
  --set cursor.customers=updated_at --set cursor.orders=updated_at
"$FERRY" dest add warehouse --url "sqlite://$DEMO/warehouse.db"

echo "== full sync: staging tables, swapped in at once"
"$FERRY" sync shop warehouse --full

echo "== change the source: 2 updates, 1 new order"
sqlite3 "$DEMO/shop.db" "UPDATE customers SET email = 'new@example.com', updated_at = datetime('now') WHERE id IN (1, 2);
  INSERT INTO orders VALUES (20001, 7, 99.50, 1, datetime('now'));"

echo "== incremental sync: only rows at or after the stored cursor"
"$FERRY" sync shop warehouse

echo "== job history"
"$FERRY" jobs

echo "== the data, in $DEMO/warehouse.db"
sqlite3 -header -column "$DEMO/warehouse.db" \
  "SELECT country, count(*) AS customers FROM customers GROUP BY country;
   SELECT id, customer_id, amount, paid, _ferry_synced_at FROM orders ORDER BY id DESC LIMIT 3;"
echo
echo "state store: $DEMO/ferry.db   key: $DEMO/encryption.key   destination: $DEMO/warehouse.db"
echo "next: export FERRY_DATABASE_URL=$DEMO/ferry.db FERRY_ENCRYPTION_KEY=\$(cat $DEMO/encryption.key); $FERRY --help"
