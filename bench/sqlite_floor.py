#!/usr/bin/env python3
"""The floor an import of contacts meets in SQLite itself (ADR 0023).

Inserts ROWS contact-shaped rows straight into a SQLite file with Rapport's own schema for
`contacts`, `search_tokens` and `import_records` (read from a database that BIN creates), in
transactions of TX rows, with the writer's settings (WAL, synchronous FULL, its page cache)
and a second connection checkpointing every 250 ms as the server's checkpointer does. No
parsing, validation, encryption or HTTP: what is left is the storage engine's work per row.

    python3 bench/sqlite_floor.py [--bin target/release/rapport] [--rows 1000000]
        [--mode base|no-tokens|no-token-record-index|integer-tokens|generations]
        [--tx 10000] [--cache-kib 32768] [--gen-tokens 250000] [--fanout 4]
        [--no-record-index]

Modes:
- base: the schema as it is (three search tokens per contact, as the import bench's rows have);
- no-tokens: without `search_tokens`, to show what the tokens cost;
- no-token-record-index: without the tokens' by-record index;
- integer-tokens: tokens as 64-bit integers keyed to an integer record number, without the
  by-record index (the most compact form the tokens could take);
- generations: the tokens' key starts with a generation number (ADR 0025). New tokens go into
  the newest generation, which stays small (GEN_TOKENS), so a commit changes few pages; when
  FANOUT generations of one size are full they are merged, in key order, into one new
  generation at the end of the table (appends), and the old ones are deleted. A lookup seeks
  once per generation.

Prints rows/s per 100,000 rows and in all. The rows are generated in Python, which adds
about 25 µs per row on a 2-core bench machine; compare modes with each other, not with the
server.
"""
import argparse
import base64
import os
import random
import re
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid

FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静磊洋勇艳杰"
COLUMNS = ["id", "family_name", "given_name", "name_norm", "title", "mobile_enc",
           "mobile_bidx", "email_enc", "email_bidx", "owner_id", "created_by", "created_at",
           "updated_at", "family_norm"]


def rapport_schema(binary):
    """The CREATE statements of the three tables and their indexes, from a fresh database
    of BIN's, without the foreign keys (the referenced tables are not copied)."""
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, RAPPORT_DATA_DIR=d, RAPPORT_LOG="warn",
                   RAPPORT_DATABASE_URL=f"sqlite://{d}/r.db")
        subprocess.run([binary, "user", "create", "--email", "floor@example.com",
                        "--password", "floor benchmark 1", "--role", "administrator"],
                       env=env, check=True, capture_output=True)
        db = sqlite3.connect(f"{d}/r.db")
        rows = db.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name IN "
            "('contacts', 'search_tokens', 'import_records') AND sql IS NOT NULL "
            "ORDER BY type DESC").fetchall()
        db.close()
    out = []
    for (sql,) in rows:
        sql = re.sub(r",\s*FOREIGN KEY\s*\([^)]*\)\s*REFERENCES[^,)]*\([^)]*\)[^,)]*", "", sql)
        out.append(sql)
    return ";\n".join(out) + ";"


def time_ordered_id():
    """A UUID whose first 48 bits are the time in milliseconds, as UUID v7 ids are."""
    ms = int(time.time() * 1000)
    rest = uuid.uuid4().hex[12:]
    h = f"{ms:012x}{rest}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/rapport")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--mode", default="base",
                    choices=["base", "no-tokens", "no-token-record-index", "integer-tokens",
                             "generations"])
    ap.add_argument("--tx", type=int, default=10_000)
    ap.add_argument("--cache-kib", type=int, default=32 * 1024)
    ap.add_argument("--gen-tokens", type=int, default=250_000)
    ap.add_argument("--fanout", type=int, default=4)
    ap.add_argument("--no-record-index", action="store_true",
                    help="generations: without the tokens' by-record index")
    args = ap.parse_args()

    schema = rapport_schema(args.bin)
    work = tempfile.mkdtemp(prefix="rapport-floor-")
    path = os.path.join(work, "floor.db")
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode = WAL")
    c.execute("PRAGMA synchronous = FULL")
    c.execute(f"PRAGMA cache_size = -{args.cache_kib}")
    c.execute("PRAGMA wal_autocheckpoint = 65536")
    c.executescript(schema)
    token_sql = "INSERT INTO search_tokens (object_type, token, record_id) VALUES ('contact', ?, ?)"
    if args.mode == "no-tokens":
        c.execute("DROP TABLE search_tokens")
    elif args.mode == "no-token-record-index":
        c.execute("DROP INDEX search_tokens_record")
    elif args.mode == "integer-tokens":
        c.execute("DROP TABLE search_tokens")
        c.execute("CREATE TABLE search_tokens (object_type INTEGER NOT NULL, token INTEGER "
                  "NOT NULL, record_no INTEGER NOT NULL, PRIMARY KEY (object_type, token, "
                  "record_no)) WITHOUT ROWID")
        token_sql = "INSERT INTO search_tokens (object_type, token, record_no) VALUES (2, ?, ?)"
    elif args.mode == "generations":
        c.execute("DROP TABLE search_tokens")
        c.execute("CREATE TABLE search_tokens (generation INTEGER NOT NULL, object_type "
                  "varchar(32) NOT NULL, record_id varchar(36) NOT NULL, token varchar(64) "
                  "NOT NULL, PRIMARY KEY (generation, object_type, token, record_id)) "
                  "WITHOUT ROWID")
        if not args.no_record_index:
            c.execute("CREATE INDEX search_tokens_record ON search_tokens (record_id)")
    # generations: [(number, level, tokens)], the newest last; the newest is being filled.
    gens = [(0, 0, 0)]
    next_gen = 1
    merge_s = 0.0

    stop = threading.Event()

    def checkpointer():
        k = sqlite3.connect(path, isolation_level=None)
        while not stop.wait(0.25):
            k.execute("PRAGMA wal_checkpoint(PASSIVE)")
        k.close()

    ck = threading.Thread(target=checkpointer)
    ck.start()
    insert = (f"INSERT INTO contacts ({', '.join(COLUMNS)}) "
              f"VALUES ({', '.join('?' * len(COLUMNS))})")
    link = "INSERT INTO import_records (import_id, record_id, action) VALUES (?, ?, 'created')"
    owner, import_id = str(uuid.uuid4()), str(uuid.uuid4())

    def blob(n):
        return base64.b64encode(os.urandom(n)).decode()

    def token():
        return os.urandom(8).hex()

    start = last = time.time()
    done = last_done = 0
    while done < args.rows:
        rows, tokens, links = [], [], []
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        for j in range(min(args.tx, args.rows - done)):
            rid = time_ordered_id()
            fam, giv = random.choice(FAMILY), random.choice(GIVEN)
            mobile, email = token(), token()
            rows.append((rid, fam, giv, fam + giv, "经理", blob(40), mobile, blob(50), email,
                         owner, owner, now, now, fam))
            if args.mode == "integer-tokens":
                n = done + j
                tokens += [(int(t, 16) >> 1, n) for t in (mobile, email, token())]
            elif args.mode != "no-tokens":
                tokens += [(mobile, rid), (email, rid), (token(), rid)]
            links.append((import_id, rid))
        c.execute("BEGIN IMMEDIATE")
        c.executemany(insert, rows)
        if args.mode == "generations":
            g = gens[-1][0]
            c.executemany("INSERT INTO search_tokens (generation, object_type, token, "
                          "record_id) VALUES (?, 'contact', ?, ?)",
                          [(g, t, r) for t, r in tokens])
            gens[-1] = (g, 0, gens[-1][2] + len(tokens))
        elif tokens:
            c.executemany(token_sql, tokens)
        c.executemany(link, links)
        c.execute("COMMIT")
        if args.mode == "generations" and gens[-1][2] >= args.gen_tokens:
            t0 = time.time()
            level = 0
            while True:
                same = [x for x in gens if x[1] == level]
                if len(same) < args.fanout:
                    break
                nums = ",".join(str(x[0]) for x in same)
                c.execute("BEGIN IMMEDIATE")
                c.execute(f"INSERT INTO search_tokens SELECT {next_gen}, object_type, "
                          f"record_id, token FROM search_tokens WHERE generation IN ({nums}) "
                          "ORDER BY object_type, token, record_id")
                c.execute(f"DELETE FROM search_tokens WHERE generation IN ({nums})")
                c.execute("COMMIT")
                gens = [x for x in gens if x[1] != level]
                gens.append((next_gen, level + 1, sum(x[2] for x in same)))
                next_gen += 1
                level += 1
            gens.sort(key=lambda x: -x[1])
            gens.append((next_gen, 0, 0))
            next_gen += 1
            merge_s += time.time() - t0
        done += len(rows)
        if done - last_done >= 100_000:
            now_t = time.time()
            print(f"{done} rows: {int((done - last_done) / (now_t - last))} rows/s", flush=True)
            last, last_done = now_t, done
    stop.set()
    ck.join()
    if args.mode in ("base", "no-token-record-index", "generations"):
        probe = [os.urandom(8).hex() for _ in range(2000)]
        where = "object_type = 'contact' AND token = ?"
        if args.mode == "generations":
            where = f"generation IN ({','.join(str(x[0]) for x in gens)}) AND {where}"
            print(f"generations: {len(gens)} at the end, {merge_s:.1f} s in merges")
        t0 = time.time()
        for t in probe:
            c.execute(f"SELECT record_id FROM search_tokens WHERE {where}", (t,)).fetchall()
        print(f"a token lookup: {(time.time() - t0) / len(probe) * 1e6:.0f} µs")
    c.close()
    size = os.path.getsize(path) >> 20
    print(f"{args.mode}: {args.rows} rows, {int(args.rows / (time.time() - start))} rows/s in "
          f"all, tx {args.tx}, cache {args.cache_kib} KiB, database {size} MiB")
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass
    os.rmdir(work)


if __name__ == "__main__":
    main()
