#!/usr/bin/python3
"""test_pg_cluster.py — tests/lib/pg_cluster and lilactest.PgCluster, the
real PostgreSQL that lilac's PostgreSQL tests start, keep what they promise:
a server of the test's own on a Unix socket in its directory and no TCP,
durable as a real install (fsync, synchronous_commit, full_page_writes on),
a database `lilac` whose URI works as printed (percent-encoded where the
path needs it), stop and start again keeping the data, stop idempotent.
The libpq facts the active/standby design relies on are test_pg_session.c's.

Run: LILAC_BIN=bin tests/pg/test_pg_cluster.py (as root the server runs as
the user lilac-test, as anyone else as that user).
"""

import os
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'lib'))
import lilactest                    # noqa: E402
from lilactest import PgCluster, case, sandbox  # noqa: E402

box = sandbox('lilac-pg-cluster.')
pg = PgCluster(box)


@case('start prints a URI that reaches database lilac as lilac')
def _():
    uri = pg.start()
    assert uri == f'postgresql:///lilac?host={pg.dir}&user=lilac', uri
    assert pg.psql('SELECT current_database(), current_user') == 'lilac|lilac'


@case('no TCP, the socket in its directory, durable as a real install')
def _():
    settings = pg.psql("SELECT name || '=' || setting FROM pg_settings WHERE name IN"
                       " ('listen_addresses', 'unix_socket_directories', 'fsync',"
                       " 'synchronous_commit', 'full_page_writes') ORDER BY name")
    assert settings.split('\n') == [
        'fsync=on', 'full_page_writes=on', 'listen_addresses=', 'synchronous_commit=on',
        f'unix_socket_directories={pg.dir}'], settings
    assert os.path.exists(os.path.join(pg.dir, '.s.PGSQL.5432'))


@case('stop, then start again: the same cluster, its data kept')
def _():
    pg.psql('CREATE TABLE kept (x int); INSERT INTO kept VALUES (41), (1)')
    pg.stop()
    assert not os.path.exists(os.path.join(pg.dir, '.s.PGSQL.5432')), 'socket left behind'
    pg.start()
    assert pg.psql('SELECT sum(x) FROM kept') == '42'


@case('stop of a stopped cluster does nothing and succeeds')
def _():
    pg.stop()
    pg.stop()


@case('a directory with a space and a % in its name: the URI is percent-encoded')
def _():
    odd = PgCluster(box, 'p g%1')
    with odd:
        assert odd.uri.endswith('/p%20g%251&user=lilac'), odd.uri
        assert odd.psql('SELECT 1') == '1'


sys.exit(lilactest.finish())
