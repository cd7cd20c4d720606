#!/usr/bin/env bash
# Install what the test suite needs and a fresh machine lacks: Chromium for the browser
# tests, pg_dump and pg_restore for the encryption test and PostgreSQL backups, pgBackRest for
# the PostgreSQL backup drill, OpenSSH's server for the SFTP backup test, openssl for the TLS
# test, and the e2e npm packages
# (from the lockfile), and the Python packages in scripts/python-requirements.txt. Safe to run
# repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v pg_dump >/dev/null || need+=(postgresql-client)
command -v openssl >/dev/null || need+=(openssl)
command -v pgbackrest >/dev/null || need+=(pgbackrest)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v node >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing: ${need[*]} — install them (e.g. sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi
# Python packages: icalendar, vobject and openpyxl read the feeds, cards and workbooks Rapport writes;
# aiosmtpd is the SMTP server mail tests send to; schemathesis runs the API contract;
# prometheus_client parses /metrics; moto serves S3 for the off-site backup tests.
if ! python3 -c "import icalendar, vobject, aiosmtpd, openpyxl, schemathesis, prometheus_client, moto.server, flask_cors" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check -r scripts/python-requirements.txt
fi
if [ ! -d e2e/node_modules ] || [ e2e/package-lock.json -nt e2e/node_modules ]; then
  (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
