/*  test_faults.c — the broker's faults that used to be silent (issue 12),
    end to end with the real binaries.

    - one broker per database: a second lilac-broker on the same file exits
      1 naming the first one's pid, and the first goes on committing;
*/
#include <signal.h>
#include "../check.h"
#include "../harness/harness.h"

//  A second broker on the first one's database, on ports of its own.
static void
s_one_broker_per_database (testbed_t *bed)
{
    TEST ("one broker per database: a second exits 1 naming the holder's pid");
    char ingest [64], publish [64], control [64];
    snprintf (ingest, sizeof ingest, "tcp://127.0.0.1:%d", port_free ());
    snprintf (publish, sizeof publish, "tcp://127.0.0.1:%d", port_free ());
    snprintf (control, sizeof control, "tcp://127.0.0.1:%d", port_free ());
    cli_result_t second;
    command_run ("lilac-broker", "second-broker", sandbox_dir (bed->sandbox), 10000, &second,
                 "--db", broker_process_database (bed->broker), "--ingest", ingest,
                 "--publish", publish, "--control", control, NULL);
    char holder [64];
    snprintf (holder, sizeof holder, "pid %ld", (long) broker_process_pid (bed->broker));
    CHECK (second.status == 1, "second broker exit status %d, want 1", second.status);
    CHECK (strstr (second.err, "in use by another lilac-broker") && strstr (second.err, holder),
           "second broker said: %s", second.err);
    cli_result_free (&second);
    CHECK (testbed_raise (bed, "lock-host", "after-second", NULL) == 0,
           "the first broker still commits and publishes");
    CHECK (broker_process_stat (bed->broker, "commit_failures") == 0, "no failed commits");
}

int
main (void)
{
    testbed_t *bed = testbed_new ("faults", NULL);
    if (!bed) {
        TEST ("testbed");
        CHECK (false, "no testbed");
        return check_done ();
    }
    s_one_broker_per_database (bed);
    int failed = check_done ();
    testbed_destroy (&bed, failed != 0);
    return failed;
}
