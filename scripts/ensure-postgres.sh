#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 for the tests.
# Uses a running server if there is one; otherwise, as root, installs and starts Debian's package.
set -euo pipefail
HOST=${SUANLI_TEST_PG_HOST:-127.0.0.1}
PORT=${SUANLI_TEST_PG_PORT:-5432}

answers() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

if answers; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-postgres: nothing answers on $HOST:$PORT and I am not root; PostgreSQL tests will be skipped" >&2
  exit 0
fi
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "ensure-postgres: installing PostgreSQL from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h 2>/dev/null | grep -q "^$ver main"; then
  pg_createcluster "$ver" main >/dev/null
fi
# Trust auth on loopback for the test databases the suite creates and drops.
hba=/etc/postgresql/$ver/main/pg_hba.conf
grep -q "suanli-tests" "$hba" || sed -i '1i host all all 127.0.0.1/32 trust # suanli-tests' "$hba"
pg_ctlcluster --skip-systemctl-redirect "$ver" main start || pg_ctlcluster "$ver" main restart
for _ in $(seq 1 50); do answers && exit 0; sleep 0.2; done
echo "ensure-postgres: PostgreSQL did not come up on $HOST:$PORT" >&2
exit 1
