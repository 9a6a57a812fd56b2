/*  test_rules.c — notifier rules: matching, reminders, escalation, flood
    control, one action per destination, and config errors with file:line.

    Configs are parsed from text under the name "rules.conf" so every error
    message can be compared whole. Time runs in UTC (TZ set in main) from
    S_MONDAY, midnight at the start of Monday 23 November 2026.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../check.h"
#include "alert.h"
#include "config.h"
#include "mem.h"
#include "../../notifiers/rules.h"

#define S_MONDAY  1795392000000LL          //  2026-11-23T00:00:00Z, a Monday
#define S_MINUTE  60000LL
#define S_HOUR    (60 * S_MINUTE)
#define S_DAY     (24 * S_HOUR)
#define S_NOON    (S_MONDAY + 12 * S_HOUR)

//  A config and the rules read from it; the rules borrow the config.
typedef struct {
    config_t *config;
    rules_t *rules;
} fixture_t;

static const char *const s_extra_keys [] = { "user", "sound", NULL };

static fixture_t
s_load (const char *text)
{
    char error [CONFIG_ERROR_SIZE] = "";
    fixture_t fixture = { NULL, NULL };
    fixture.config = config_parse (text, "rules.conf", error, sizeof error);
    CHECK (fixture.config != NULL, "config: %s", error);
    if (fixture.config)
        fixture.rules = rules_load (fixture.config, s_extra_keys, "user", error, sizeof error);
    CHECK (fixture.rules != NULL, "rules: %s", error);
    return fixture;
}

static void
s_unload (fixture_t *fixture)
{
    rules_destroy (&fixture->rules);
    config_destroy (&fixture->config);
}

//  Loads text that must be refused, and checks the whole error message.
static void
s_check_rejects (const char *text, const char *expected)
{
    char error [CONFIG_ERROR_SIZE] = "";
    config_t *config = config_parse (text, "rules.conf", error, sizeof error);
    if (!CHECK (config != NULL, "config: %s", error))
        return;
    rules_t *rules = rules_load (config, s_extra_keys, "user", error, sizeof error);
    CHECK (rules == NULL, "accepted: %s", text);
    CHECK (strcmp (error, expected) == 0, "error '%s', expected '%s'", error, expected);
    rules_destroy (&rules);
    config_destroy (&config);
}

//  A raised urgent alert web1/disk, changed at `changed_at`; strings are
//  literals, never freed.
static alert_change_t
s_change (const char *event, const char *source, const char *id, int64_t changed_at)
{
    alert_change_t change;
    memset (&change, 0, sizeof change);
    change.event = (char *) (uintptr_t) event;
    change.at = changed_at;
    change.alert.source = (char *) (uintptr_t) source;
    change.alert.id = (char *) (uintptr_t) id;
    change.alert.level = LEVEL_URGENT;
    change.alert.state = strcmp (event, "cleared") == 0 ? ALERT_CLEARED
                       : strcmp (event, "acked") == 0 ? ALERT_ACKED : ALERT_RAISED;
    change.alert.changed_at = changed_at;
    return change;
}

static rule_action_t s_actions [RULES_MAX_ACTIONS];

static size_t
s_decide (fixture_t *fixture, const alert_change_t *change, int64_t now)
{
    memset (s_actions, 0, sizeof s_actions);
    return rules_decide (fixture->rules, change, now, s_actions, RULES_MAX_ACTIONS);
}

//  How many actions of kind the last decision made.
static size_t
s_count (size_t count, rule_action_kind_t kind)
{
    size_t found = 0;
    for (size_t index = 0; index < count; index++)
        if (s_actions [index].kind == kind)
            found++;
    return found;
}

//  Does the rule act on event for source/id at now? (One NOTIFY or none.)
static bool
s_acts (fixture_t *fixture, const alert_change_t *change, int64_t now)
{
    size_t count = s_decide (fixture, change, now);
    return count == 1 && s_actions [0].kind == ACTION_NOTIFY;
}

static void
s_test_load_and_describe (void)
{
    TEST ("load: keys, defaults, destination, and the description");
    fixture_t fixture = s_load (
        "notifier\n"
        "    events = tcp://127.0.0.1:1\n"
        "rule = oncall\n"
        "    user = u123\n"
        "    source = web*\n"
        "    level = urgent,normal\n"
        "    every = 30m\n"
        "    after = 1h\n"
        "    limit = 10 per 1h\n"
        "    hours = 8-18\n"
        "    days = mon-fri\n"
        "rule = everything\n"
        "    on = raised,cleared\n"
        "    sound = siren\n");
    if (!fixture.rules)
        return;
    CHECK (rules_count (fixture.rules) == 2, "count %zu", rules_count (fixture.rules));
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    rules_describe (fixture.rules, out, NULL);
    fclose (out);
    const char *expected =
        "rule oncall → destination u123: raised, reminder of source web* id * level "
        "urgent,normal; every 30m; after 1h; at most 10 per 1h; hours 8-18, days mon-fri\n"
        "rule everything → destination default: raised, cleared of source * id * level any; "
        "at any time\n";
    CHECK (strcmp (text, expected) == 0, "described:\n%s", text);
    free (text);
    out = open_memstream (&text, &size);
    rules_describe (fixture.rules, out, rules_shown_secret);    //  destinations are secrets
    fclose (out);
    CHECK (strstr (text, "u12… (4 characters, not shown)") && !strstr (text, "u123"),
           "a secret destination was printed:\n%s", text);
    free (text);
    alert_change_t change = s_change ("raised", "db1", "disk", S_NOON);
    size_t count = s_decide (&fixture, &change, S_NOON);
    CHECK (count == 1 && strcmp (s_actions [0].rule, "everything") == 0
           && strcmp (s_actions [0].destination, "default") == 0
           && strcmp (config_value (config_locate (s_actions [0].settings, "sound")), "siren") == 0,
           "action for db1: %zu", count);
    s_unload (&fixture);
}

static void
s_test_globs (void)
{
    TEST ("match: source, id and subject globs; subject defaults to the source");
    fixture_t fixture = s_load (
        "rule = web\n"
        "    source = web*\n"
        "    id = disk-?\n"
        "    subject = web1*\n");
    if (!fixture.rules)
        return;
    alert_change_t change = s_change ("raised", "web1", "disk-a", S_NOON);
    CHECK (s_acts (&fixture, &change, S_NOON), "subject NULL is the source web1");
    change.alert.subject = "web1.example.com";
    CHECK (s_acts (&fixture, &change, S_NOON), "subject glob");
    change.alert.subject = "db1.example.com";
    CHECK (!s_acts (&fixture, &change, S_NOON), "subject mismatch");
    change.alert.subject = NULL;
    change.alert.id = "disk-ab";
    CHECK (!s_acts (&fixture, &change, S_NOON), "id ? matches one character");
    change.alert.id = "disk-b";
    change.alert.source = "db1";
    CHECK (!s_acts (&fixture, &change, S_NOON), "source mismatch");
    change.alert.source = "web12";
    change.alert.subject = "web12";
    CHECK (s_acts (&fixture, &change, S_NOON), "web12 matches web* and web1*");
    s_unload (&fixture);
}

static void
s_test_levels_and_labels (void)
{
    TEST ("match: level list and labels (every key present, value matching its glob)");
    fixture_t fixture = s_load (
        "rule = ops\n"
        "    level = urgent, normal\n"
        "    labels = team=ops,env=prod*\n");
    if (!fixture.rules)
        return;
    wire_label_t labels [] = {
        { "env", "production" }, { "team", "ops" }, { "rack", "r1" }
    };
    alert_change_t change = s_change ("raised", "web1", "disk", S_NOON);
    CHECK (!s_acts (&fixture, &change, S_NOON), "no labels");
    change.alert.labels = labels;
    change.alert.label_count = 3;
    CHECK (s_acts (&fixture, &change, S_NOON), "both labels, in another order");
    change.alert.level = LEVEL_NORMAL;
    CHECK (s_acts (&fixture, &change, S_NOON), "normal is listed");
    change.alert.level = LEVEL_LOW;
    CHECK (!s_acts (&fixture, &change, S_NOON), "low is not");
    change.alert.level = LEVEL_URGENT;
    change.alert.label_count = 1;
    CHECK (!s_acts (&fixture, &change, S_NOON), "team missing");
    labels [0].value = "staging";
    change.alert.label_count = 2;
    CHECK (!s_acts (&fixture, &change, S_NOON), "env does not match prod*");
    s_unload (&fixture);
}

static void
s_test_hours (void)
{
    TEST ("match: hours 8-18, 22-6 (wraps), 0-24, in local time");
    fixture_t fixture = s_load (
        "rule = day\n"
        "    user = day\n"
        "    hours = 8-18\n"
        "rule = night\n"
        "    user = night\n"
        "    hours = 22-6\n"
        "rule = always\n"
        "    user = always\n"
        "    hours = 0-24\n");
    if (!fixture.rules)
        return;
    struct {
        int64_t at;
        const char *expected;
    } cases [] = {
        { S_MONDAY + 7 * S_HOUR + 59 * S_MINUTE, "always" },
        { S_MONDAY + 8 * S_HOUR, "day,always" },
        { S_MONDAY + 17 * S_HOUR + 59 * S_MINUTE, "day,always" },
        { S_MONDAY + 18 * S_HOUR, "always" },
        { S_MONDAY + 21 * S_HOUR + 59 * S_MINUTE, "always" },
        { S_MONDAY + 22 * S_HOUR, "night,always" },
        { S_MONDAY + 23 * S_HOUR + 59 * S_MINUTE, "night,always" },
        { S_MONDAY, "night,always" },
        { S_MONDAY + 5 * S_HOUR + 59 * S_MINUTE, "night,always" },
        { S_MONDAY + 6 * S_HOUR, "always" }
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        alert_change_t change = s_change ("raised", "web1", "disk", cases [index].at);
        size_t count = s_decide (&fixture, &change, cases [index].at);
        char got [64] = "";
        for (size_t action = 0; action < count; action++)
            snprintf (got + strlen (got), sizeof got - strlen (got), "%s%s",
                      action ? "," : "", s_actions [action].destination);
        CHECK (strcmp (got, cases [index].expected) == 0, "at +%lldm: '%s', expected '%s'",
               (long long) ((cases [index].at - S_MONDAY) / S_MINUTE), got,
               cases [index].expected);
    }
    s_unload (&fixture);
}

static void
s_test_days (void)
{
    TEST ("match: days mon-fri, sat,sun, mon,wed-fri, fri-mon (wraps)");
    fixture_t fixture = s_load (
        "rule = week\n"
        "    user = week\n"
        "    days = mon-fri\n"
        "rule = weekend\n"
        "    user = weekend\n"
        "    days = sat,sun\n"
        "rule = mixed\n"
        "    user = mixed\n"
        "    days = mon,wed-fri\n"
        "rule = long\n"
        "    user = long\n"
        "    days = fri-mon\n");
    if (!fixture.rules)
        return;
    const char *expected [7] = {
        "week,mixed,long",             //  monday
        "week",                        //  tuesday
        "week,mixed",                  //  wednesday
        "week,mixed",                  //  thursday
        "week,mixed,long",             //  friday
        "weekend,long",                //  saturday
        "weekend,long"                 //  sunday
    };
    for (int day = 0; day < 7; day++) {
        int64_t at = S_NOON + day * S_DAY;
        alert_change_t change = s_change ("raised", "web1", "disk", at);
        size_t count = s_decide (&fixture, &change, at);
        char got [64] = "";
        for (size_t action = 0; action < count; action++)
            snprintf (got + strlen (got), sizeof got - strlen (got), "%s%s",
                      action ? "," : "", s_actions [action].destination);
        CHECK (strcmp (got, expected [day]) == 0, "day %d: '%s', expected '%s'",
               day, got, expected [day]);
    }
    s_unload (&fixture);
}

static void
s_test_on (void)
{
    TEST ("match: on-list, default raised,reminder; pending, updated and deleted never act");
    fixture_t fixture = s_load (
        "rule = default\n"
        "    user = default\n"
        "rule = changes\n"
        "    user = changes\n"
        "    on = cleared, acked,unacked\n");
    if (!fixture.rules)
        return;
    struct {
        const char *event;
        const char *expected;
    } cases [] = {
        { "raised", "default" }, { "reminder", "default" }, { "cleared", "changes" },
        { "acked", "changes" }, { "unacked", "changes" }, { "pending", "" },
        { "updated", "" }, { ALERT_EVENT_DELETED, "" }, { "nonsense", "" }
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        alert_change_t change = s_change (cases [index].event, "web1", "disk", S_NOON);
        size_t count = s_decide (&fixture, &change, S_NOON);
        const char *got = count ? s_actions [0].destination : "";
        CHECK (count <= 1 && strcmp (got, cases [index].expected) == 0,
               "%s: %zu actions, '%s'", cases [index].event, count, got);
    }
    s_unload (&fixture);
}

static void
s_test_suppressed (void)
{
    TEST ("suppressed: suppress_until after now notifies nobody");
    fixture_t fixture = s_load ("rule = all\n    on = raised,cleared\n");
    if (!fixture.rules)
        return;
    alert_change_t change = s_change ("raised", "web1", "disk", S_NOON);
    change.alert.suppress_until = S_NOON + 1;
    CHECK (s_decide (&fixture, &change, S_NOON) == 0, "suppressed raise acted");
    change.alert.suppress_until = S_NOON;
    CHECK (s_acts (&fixture, &change, S_NOON), "suppression over at now");
    s_unload (&fixture);
}

static void
s_test_every (void)
{
    TEST ("every: reminders thinned to the period; raised restarts the clock");
    fixture_t fixture = s_load (
        "rule = thin\n"
        "    on = raised\n"           //  with every, reminders count anyway
        "    every = 5m\n");
    if (!fixture.rules)
        return;
    int64_t start = S_NOON;
    char acted [128] = "";
    alert_change_t change = s_change ("raised", "web1", "disk", start);
    if (s_acts (&fixture, &change, start))
        strcat (acted, "0 ");
    for (int minute = 1; minute <= 10; minute++) {
        change = s_change ("reminder", "web1", "disk", start);
        if (s_acts (&fixture, &change, start + minute * S_MINUTE))
            snprintf (acted + strlen (acted), sizeof acted - strlen (acted), "%d ", minute);
    }
    CHECK (strcmp (acted, "0 5 10 ") == 0, "acted at minutes '%s'", acted);

    //  Another alert keeps its own clock
    change = s_change ("reminder", "web2", "disk", start);
    CHECK (s_acts (&fixture, &change, start + 11 * S_MINUTE), "first reminder of web2");
    //  A new raise acts even a minute after the last reminder
    change = s_change ("raised", "web1", "disk", start + 11 * S_MINUTE);
    CHECK (s_acts (&fixture, &change, start + 11 * S_MINUTE), "re-raise acted");
    change = s_change ("reminder", "web1", "disk", start + 11 * S_MINUTE);
    CHECK (!s_acts (&fixture, &change, start + 15 * S_MINUTE), "clock restarted at raise");
    CHECK (s_acts (&fixture, &change, start + 16 * S_MINUTE), "5m after the raise");
    s_unload (&fixture);
}

static void
s_test_after (void)
{
    TEST ("after: escalation only past the wait; cleared only when told before");
    fixture_t fixture = s_load (
        "rule = boss\n"
        "    after = 1h\n"
        "    on = raised,reminder,cleared,acked\n");
    if (!fixture.rules)
        return;
    int64_t start = S_NOON;
    alert_change_t change = s_change ("raised", "web1", "disk", start);
    CHECK (!s_acts (&fixture, &change, start), "raise acted at once");
    change = s_change ("reminder", "web1", "disk", start);
    CHECK (!s_acts (&fixture, &change, start + 30 * S_MINUTE), "reminder before the wait");
    CHECK (!s_acts (&fixture, &change, start + 59 * S_MINUTE), "reminder just before");
    CHECK (s_acts (&fixture, &change, start + 60 * S_MINUTE), "first reminder at 1h");
    CHECK (s_acts (&fixture, &change, start + 61 * S_MINUTE), "no every: each reminder");

    //  web2 was never told about: its acked and cleared stay quiet
    change = s_change ("raised", "web2", "disk", start);
    CHECK (!s_acts (&fixture, &change, start + 2 * S_MINUTE), "web2 raise");
    change = s_change ("acked", "web2", "disk", start + 3 * S_MINUTE);
    CHECK (!s_acts (&fixture, &change, start + 3 * S_MINUTE), "web2 ack told");
    change = s_change ("cleared", "web2", "disk", start + 4 * S_MINUTE);
    CHECK (!s_acts (&fixture, &change, start + 4 * S_MINUTE), "web2 clear told");

    //  An acked alert does not escalate
    change = s_change ("reminder", "web3", "disk", start);
    change.alert.state = ALERT_ACKED;
    CHECK (!s_acts (&fixture, &change, start + 2 * S_HOUR), "acked alert escalated");

    //  web1 was told: its ack and clear are told too
    change = s_change ("acked", "web1", "disk", start + 63 * S_MINUTE);
    CHECK (s_acts (&fixture, &change, start + 63 * S_MINUTE), "web1 ack not told");
    change = s_change ("cleared", "web1", "disk", start + 64 * S_MINUTE);
    CHECK (s_acts (&fixture, &change, start + 64 * S_MINUTE), "web1 clear not told");
    //  ... and then forgotten: a second clear (or ack) is not told
    CHECK (!s_acts (&fixture, &change, start + 65 * S_MINUTE), "cleared alert remembered");
    s_unload (&fixture);
}

static void
s_test_flood (void)
{
    TEST ("flood: limit 3 per 1h; held once, dropped, then over with the count");
    fixture_t fixture = s_load (
        "rule = flood\n"
        "    user = u1\n"
        "    limit = 3 per 1h\n");
    if (!fixture.rules)
        return;
    static const char *const ids [] = { "a", "b", "c", "d", "e", "f", "g", "h" };
    size_t notified = 0, held = 0, over = 0, silent = 0;
    for (int index = 0; index < 6; index++) {
        int64_t at = S_NOON + index * 1000;
        alert_change_t change = s_change ("raised", "web1", ids [index], at);
        size_t count = s_decide (&fixture, &change, at);
        notified += s_count (count, ACTION_NOTIFY);
        held += s_count (count, ACTION_FLOOD_HELD);
        over += s_count (count, ACTION_FLOOD_OVER);
        silent += count == 0;
        if (index == 3)
            CHECK (count == 1 && s_actions [0].kind == ACTION_FLOOD_HELD
                   && strcmp (s_actions [0].destination, "u1") == 0
                   && strcmp (s_actions [0].rule, "flood") == 0, "4th: FLOOD_HELD for u1");
    }
    CHECK (notified == 3 && held == 1 && over == 0 && silent == 2,
           "notified %zu held %zu over %zu silent %zu", notified, held, over, silent);

    //  Still inside the window of the first notification: dropped
    alert_change_t change = s_change ("raised", "web1", "g", S_NOON);
    CHECK (s_decide (&fixture, &change, S_NOON + S_HOUR - 1) == 0, "room before the window");
    //  The first notification leaves the window: over (4 dropped), then notify
    size_t count = s_decide (&fixture, &change, S_NOON + S_HOUR);
    CHECK (count == 2 && s_actions [0].kind == ACTION_FLOOD_OVER
           && s_actions [0].held == 4 && strcmp (s_actions [0].destination, "u1") == 0
           && s_actions [1].kind == ACTION_NOTIFY, "over: %zu actions, held %lld",
           count, (long long) s_actions [0].held);
    //  The window is full again (b, c, and g): a new flood
    change = s_change ("raised", "web1", "h", S_NOON);
    count = s_decide (&fixture, &change, S_NOON + S_HOUR + 10);
    CHECK (count == 1 && s_actions [0].kind == ACTION_FLOOD_HELD, "second flood: %zu", count);
    count = s_decide (&fixture, &change, S_NOON + S_HOUR + 1000);
    CHECK (count == 2 && s_actions [0].kind == ACTION_FLOOD_OVER && s_actions [0].held == 1,
           "b left: over held %lld", (long long) s_actions [0].held);
    s_unload (&fixture);
}

static void
s_test_flood_exact (void)
{
    TEST ("flood: 6 matches with no time passing give 3 notify, 1 held, 2 dropped");
    fixture_t fixture = s_load ("rule = flood\n    limit = 3 per 1h\n");
    if (!fixture.rules)
        return;
    size_t kinds [3] = { 0, 0, 0 }, empty = 0;
    for (int index = 0; index < 6; index++) {
        alert_change_t change = s_change ("raised", "web1", "disk", S_NOON);
        size_t count = s_decide (&fixture, &change, S_NOON);
        for (size_t action = 0; action < count; action++)
            kinds [s_actions [action].kind]++;
        empty += count == 0;
    }
    CHECK (kinds [ACTION_NOTIFY] == 3 && kinds [ACTION_FLOOD_HELD] == 1
           && kinds [ACTION_FLOOD_OVER] == 0 && empty == 2, "%zu/%zu/%zu, %zu empty",
           kinds [ACTION_NOTIFY], kinds [ACTION_FLOOD_HELD], kinds [ACTION_FLOOD_OVER], empty);
    alert_change_t change = s_change ("raised", "web1", "disk", S_NOON);
    size_t count = s_decide (&fixture, &change, S_NOON + S_HOUR);
    CHECK (count == 2 && s_actions [0].kind == ACTION_FLOOD_OVER && s_actions [0].held == 3
           && s_actions [1].kind == ACTION_NOTIFY, "after the window: %zu, held %lld",
           count, (long long) s_actions [0].held);
    s_unload (&fixture);
}

static void
s_test_destinations (void)
{
    TEST ("destinations: one action per destination, first rule in file order");
    fixture_t fixture = s_load (
        "rule = first\n"
        "    user = u1\n"
        "    source = web*\n"
        "rule = second\n"
        "    user = u1\n"
        "rule = third\n"
        "    user = u2\n"
        "rule = fourth\n"
        "rule = fifth\n");
    if (!fixture.rules)
        return;
    alert_change_t change = s_change ("raised", "web1", "disk", S_NOON);
    size_t count = s_decide (&fixture, &change, S_NOON);
    CHECK (count == 3, "actions: %zu", count);
    if (count == 3) {
        CHECK (strcmp (s_actions [0].rule, "first") == 0
               && strcmp (s_actions [0].destination, "u1") == 0, "u1 by %s", s_actions [0].rule);
        CHECK (strcmp (s_actions [1].rule, "third") == 0
               && strcmp (s_actions [1].destination, "u2") == 0, "u2 by %s", s_actions [1].rule);
        CHECK (strcmp (s_actions [2].rule, "fourth") == 0
               && strcmp (s_actions [2].destination, "default") == 0, "default by %s",
               s_actions [2].rule);
    }
    change.alert.source = "db1";
    count = s_decide (&fixture, &change, S_NOON);
    CHECK (count == 3 && strcmp (s_actions [0].rule, "second") == 0,
           "first does not match db1, second decides for u1");
    s_unload (&fixture);
}

static void
s_test_shared_destination_memory (void)
{
    TEST ("destinations: a rule whose destination was told by another counts as having acted");
    fixture_t fixture = s_load (
        "rule = page\n"
        "    user = u1\n"
        "    on = raised\n"
        "rule = remind\n"
        "    user = u1\n"
        "    every = 5m\n");
    if (!fixture.rules)
        return;
    alert_change_t change = s_change ("raised", "web1", "disk", S_NOON);
    size_t count = s_decide (&fixture, &change, S_NOON);
    CHECK (count == 1 && strcmp (s_actions [0].rule, "page") == 0, "raise: %zu", count);
    change = s_change ("reminder", "web1", "disk", S_NOON);
    CHECK (s_decide (&fixture, &change, S_NOON + S_MINUTE) == 0, "reminder 1m after the page");
    count = s_decide (&fixture, &change, S_NOON + 5 * S_MINUTE);
    CHECK (count == 1 && strcmp (s_actions [0].rule, "remind") == 0, "reminder at 5m");
    s_unload (&fixture);
}

static void
s_test_capacity (void)
{
    TEST ("capacity: never more actions than asked for");
    fixture_t fixture = s_load ("rule = a\n    user = a\nrule = b\n    user = b\n");
    if (!fixture.rules)
        return;
    alert_change_t change = s_change ("raised", "web1", "disk", S_NOON);
    rule_action_t one [1];
    CHECK (rules_decide (fixture.rules, &change, S_NOON, one, 1) == 1
           && strcmp (one [0].destination, "a") == 0, "one slot");
    CHECK (rules_decide (fixture.rules, &change, S_NOON, NULL, 0) == 0, "no slot");
    CHECK (rules_decide (NULL, &change, S_NOON, one, 1) == 0, "NULL rules");
    s_unload (&fixture);
}

static void
s_test_errors (void)
{
    TEST ("config errors: each names file:line");
    s_check_rejects ("rule = a\n    colour = red\n",
                     "rules.conf:2: unknown key 'colour' in section 'rule'");
    s_check_rejects ("notifier\n"
                     "    events = x\n"
                     "rule = a\n"
                     "    user = u1\n"
                     "rule = b\n"
                     "    level = urgent\n"
                     "    days = mon-fir\n",
                     "rules.conf:7: days: 'mon-fir' is not a day (mon tue wed thu fri sat sun)");
    s_check_rejects ("rule = a\n    days = mon,Tue\n",
                     "rules.conf:2: days: 'Tue' is not a day (mon tue wed thu fri sat sun)");
    s_check_rejects ("rule = a\n    hours = 25-3\n",
                     "rules.conf:2: hours: '25-3' is not hours (like 8-18, 22-6 or 0-24)");
    s_check_rejects ("rule = a\n    hours = 8to18\n",
                     "rules.conf:2: hours: '8to18' is not hours (like 8-18, 22-6 or 0-24)");
    s_check_rejects ("rule = a\n    hours = 8-8\n",
                     "rules.conf:2: hours: '8-8' is an empty range (0-24 is all day)");
    s_check_rejects ("rule = a\n    limit = 10/h\n",
                     "rules.conf:2: limit: '10/h' is not N per DURATION (like 10 per 1h)");
    s_check_rejects ("rule = a\n    limit = 10 per 0s\n",
                     "rules.conf:2: limit: '10 per 0s' is not N per DURATION (like 10 per 1h)");
    s_check_rejects ("rule = a\n    limit = 0 per 1h\n",
                     "rules.conf:2: limit: '0 per 1h': N must be from 1 to 10000");
    s_check_rejects ("rule = a\n    level = urgent,high\n",
                     "rules.conf:2: level: 'high' is not a level (urgent normal low)");
    s_check_rejects ("rule = a\n    level = \"\"\n",
                     "rules.conf:2: level: '' is not a level (urgent normal low)");
    s_check_rejects ("rule = a\n    on = raise\n",
                     "rules.conf:2: on: 'raise' is not an event "
                     "(raised reminder cleared acked unacked)");
    s_check_rejects ("rule = a\n    every = 5x\n",
                     "rules.conf:2: every: '5x' is not a duration (like 30s, 5m, 2h, 7d or 500ms)");
    s_check_rejects ("rule = a\n    every = 0\n",
                     "rules.conf:2: every: '0' must be longer than 0s");
    s_check_rejects ("rule = a\n\n    after = soon\n",
                     "rules.conf:3: after: 'soon' is not a duration (like 30s, 5m, 2h, 7d or 500ms)");
    s_check_rejects ("rule = a\n    labels = team\n",
                     "rules.conf:2: labels: 'team' is not KEY=GLOB");
    s_check_rejects ("rule = a\n    source = \"\"\n",
                     "rules.conf:2: source: is empty (leave it out, or use *, to match any)");
    s_check_rejects ("rule = a\n    user = \"\"\n",
                     "rules.conf:2: user: is empty (leave it out for the default destination)");
    s_check_rejects ("rule = a\n    every = 5m\n    every = 10m\n",
                     "rules.conf:3: 'every' is set twice (first at line 2)");
    s_check_rejects ("rule = a\nrule = b\nrule = a\n",
                     "rules.conf:3: rule 'a' is defined twice (first at line 1)");
    s_check_rejects ("rule\n    level = low\n",
                     "rules.conf:1: rule needs a name (rule = NAME)");
    s_check_rejects ("notifier\n    events = x\n",
                     "rules.conf: no rule = NAME section: this notifier would never notify");
}

static void
s_test_accepts (void)
{
    TEST ("config: the forms the documentation shows are accepted");
    fixture_t fixture = s_load (
        "rule = a\n"
        "    hours = 0-24\n"
        "    days = mon,wed-fri\n"
        "    on = raised,reminder,cleared,acked,unacked\n"
        "    labels = team=ops, env=\n"
        "    limit = 10 per 1h\n"
        "    after = 0\n"
        "rule = b\n"
        "    hours = 9,13-14\n"
        "    days = sat,sun\n");
    s_unload (&fixture);
}

static void
s_test_every_error (void)
{
    TEST ("rules_load_all: every error of every rule in one run, in file order, each with"
          " file:line; rules_load gives the first");
    const char *text =
        "rule = a\n"                  //  1
        "    colour = red\n"          //  2
        "    days = mon-fir\n"        //  3
        "rule = b\n"                  //  4
        "    level = high\n"          //  5
        "    every = soon\n"          //  6
        "rule = a\n";                 //  7
    char error [CONFIG_ERROR_SIZE];
    config_t *config = config_parse (text, "rules.conf", error, sizeof error);
    if (!CHECK (config, "parse: %s", error))
        return;
    config_report_t *errors = config_report_new ();
    rules_t *rules = rules_load_all (config, s_extra_keys, "user", errors);
    CHECK (!rules, "loaded");
    const char *expected [] = {
        "rules.conf:2: unknown key 'colour' in section 'rule'",
        "rules.conf:3: days: 'mon-fir' is not a day",
        "rules.conf:5: level: 'high' is not a level",
        "rules.conf:6: every: 'soon' is not a duration",
        "rules.conf:7: rule 'a' is defined twice (first at line 1)",
    };
    size_t count = sizeof expected / sizeof expected [0];
    CHECK (config_report_count (errors) == count, "%zu errors", config_report_count (errors));
    for (size_t index = 0; index < count; index++) {
        const char *got = config_report_get (errors, index);
        CHECK (got && strncmp (got, expected [index], strlen (expected [index])) == 0,
               "error %zu is '%s', expected '%s...'", index, got ? got : "(none)",
               expected [index]);
    }
    rules = rules_load (config, s_extra_keys, "user", error, sizeof error);
    CHECK (!rules && strncmp (error, expected [0], strlen (expected [0])) == 0,
           "rules_load said '%s'", error);
    config_report_destroy (&errors);
    config_destroy (&config);
}

int
main (void)
{
    setenv ("TZ", "UTC", 1);
    tzset ();
    s_test_load_and_describe ();
    s_test_globs ();
    s_test_levels_and_labels ();
    s_test_hours ();
    s_test_days ();
    s_test_on ();
    s_test_suppressed ();
    s_test_every ();
    s_test_after ();
    s_test_flood ();
    s_test_flood_exact ();
    s_test_destinations ();
    s_test_shared_destination_memory ();
    s_test_capacity ();
    s_test_errors ();
    s_test_accepts ();
    s_test_every_error ();
    return check_done ();
}
