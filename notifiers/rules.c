/*  rules.c — which changes a notifier acts on, and for whom (see rules.h).

    Loading turns each `rule = NAME` section into a rule_t: globs stay as
    the config's own strings (the config tree must outlive the rules, as
    actions borrow its sections anyway), lists become bit masks (levels,
    events, the 24 hours of a day, the 7 days of a week), labels become
    KEY/GLOB pairs. Every bad value is "FILE:LINE: key: why".

    Values: globs must not be empty. level, on, hours, days and labels are
    comma lists (blanks around items allowed). hours items are "A-B" (A
    included, B not; B < A wraps past midnight; 0-24 is all day; A == B is
    refused as empty) or a single hour "9" (09:00-09:59). days items are
    lowercase three-letter names or ranges of them, which may wrap
    ("fri-mon"). every must be more than 0; after may be 0 (act at once, but
    tell cleared/acked/unacked only when told of the raise). limit is
    "N per DURATION", N from 1 to RULES_MAX_LIMIT, DURATION more than 0. The
    destination key, when given, must not be empty; absent, it is "default".

    Deciding walks the rules in file order. A rule acts on a change when all
    of these hold: the alert is not suppressed (suppress_until > now, or
    silenced_by set by a live silence, stops every rule); source, id and subject (the source when the alert has none)
    match their globs (fnmatch, no flags, case-sensitive); the level is in
    its list; every label it names is on the alert and matches; the local
    hour and day of `now` are in its hours and days; the event is in its
    `on` list (with `every`, reminders always are); and then:
    - `after`: raised and reminder changes act only while the alert is
      raised (not acked) and now - changed_at >= after. changed_at is the
      last state change, so an unack restarts the wait. cleared, acked and
      unacked changes act only if this rule has acted for the alert before;
    - `every`: a reminder acts only if now - (when this rule last acted for
      the alert) >= every, or if it never has. A raised change acts whenever
      `on` lists raised, and restarts the clock.
    Pending and updated changes never act.

    Destinations: the first rule in file order that would act for a
    destination decides for it; later rules with the same destination add
    nothing, but count as having acted for the alert (the destination was
    told), so their `every` and `after` memories stay true. If the deciding
    rule's flood limit holds the change back, the destination hears nothing
    of this change from any rule.

    Flood control (`limit = N per P`) keeps, per rule, the times of its last
    N notifications (a ring). A notification needs one of them to be older
    than P (entries at exactly now - P have left the window). With no room,
    the first held change yields FLOOD_HELD and starts a flood; it and every
    later held change count in `held` and are dropped (and do not count as
    acted). The next change with room yields FLOOD_OVER (held = all changes
    dropped, the one that said FLOOD_HELD included), then its NOTIFY.

    Memory: a rule with `every` or `after` remembers, per alert it acted on
    ("source\x1fid"), when it last did; a cleared change forgets the alert
    in every rule, whether or not anything acted on it. Each map holds at
    most RULES_MAX_TRACKED alerts; past that it forgets the one acted on
    longest ago. A flood window is RULES_MAX_LIMIT times at most.

    If the caller's actions array is too small, the rules that no longer
    fit are skipped as if they had not matched (no state changes for them).
*/
#include <czmq.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "config_report.h"
#include "error_text.h"
#include "mem.h"
#include "rules.h"
#include "timespec.h"

#define RULES_MAX_TRACKED 100000       //  alerts one rule remembers, at most
#define RULES_MAX_LIMIT   10000        //  N in `limit = N per P`, at most
#define RULES_WHY_SIZE    256          //  one "why" of a config error

//  Events a rule may act on, as bits.
#define EVENT_RAISED    (1u << 0)
#define EVENT_REMINDER  (1u << 1)
#define EVENT_CLEARED   (1u << 2)
#define EVENT_ACKED     (1u << 3)
#define EVENT_UNACKED   (1u << 4)

static const struct {
    const char *name;
    unsigned bit;
} s_events [] = {
    { "raised", EVENT_RAISED },
    { "reminder", EVENT_REMINDER },
    { "cleared", EVENT_CLEARED },
    { "acked", EVENT_ACKED },
    { "unacked", EVENT_UNACKED }
};
#define S_EVENT_COUNT (sizeof s_events / sizeof s_events [0])

//  Day names in struct tm's order (tm_wday: sunday is 0).
static const char *const s_day_names [7] = {
    "sun", "mon", "tue", "wed", "thu", "fri", "sat"
};

#define ALL_LEVELS ((1u << LEVEL_LOW) | (1u << LEVEL_NORMAL) | (1u << LEVEL_URGENT))
#define ALL_HOURS  ((1u << 24) - 1)
#define ALL_DAYS   ((1u << 7) - 1)

static const char *const s_rule_keys [] = {
    "source", "id", "subject", "level", "labels", "hours", "days",
    "on", "every", "after", "limit", NULL
};

typedef struct {
    char *key;                     //  label that must be on the alert
    char *glob;                    //  and the glob its value must match
} label_match_t;

typedef struct {
    const char *name;              //  the rule's name (the config's string)
    config_t *settings;            //  its section
    const char *destination;       //  destination key's value, or "default" (and the
                                   //  refining keys' values: destination_text)
    char *destination_text;        //  owned, when refining keys made it
    const char *source;            //  glob
    const char *id;                //  glob
    const char *subject;           //  glob
    const char *level_text;        //  level as written, NULL for all
    const char *hours_text;        //  hours as written, NULL for all day
    const char *days_text;         //  days as written, NULL for every day
    const char *labels_text;       //  labels as written, NULL for none
    unsigned levels;               //  bit (1 << alert_level_t) per level
    unsigned events;               //  EVENT_* bits (reminder added by every)
    uint32_t hours;                //  bit h: hour h..h+1 of the day
    unsigned days;                 //  bit d: tm_wday d
    label_match_t *labels;         //  label_count label conditions, owned
    size_t label_count;
    int64_t every;                 //  ms between reminders, 0 when not set
    int64_t after;                 //  ms unacknowledged before acting, -1 when not set
    size_t limit;                  //  notifications per period, 0 when not set
    int64_t period;                //  the flood window, ms
    int64_t *window;               //  ring of the last `limit` notification times
    size_t window_first;           //  index of the oldest time in window
    size_t window_used;            //  times in window
    bool flooding;                 //  said FLOOD_HELD, not yet FLOOD_OVER
    int64_t held;                  //  changes dropped since FLOOD_HELD (it included)
    zhashx_t *acted;               //  "source\x1fid" -> int64_t * last acted; NULL
                                   //  when the rule has neither every nor after
    uint64_t claimed;              //  decision serial in which it claimed its destination
    bool claim_told;               //  and whether it notified the destination then
} rule_t;

struct _rules_t {
    rule_t *rules;                 //  count rules in file order
    size_t count;
    uint64_t serial;               //  one per rules_decide call
};

//  --------------------------------------------------------------------------
//  Config values

//  A piece of a value, between commas.
typedef struct {
    const char *start;
    size_t length;
} span_t;

//  Reports "FILE:LINE: key: why" for the key node. Returns -1.
static int
s_key_error (config_t *node, char *error, size_t error_size, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

static int
s_key_error (config_t *node, char *error, size_t error_size, const char *format, ...)
{
    char why [RULES_WHY_SIZE];
    va_list args;
    va_start (args, format);
    vsnprintf (why, sizeof why, format, args);
    va_end (args);
    return error_text (error, error_size, -1, "%s:%d: %s: %s", config_file (node),
                       config_line (node), config_name (node), why);
}

static bool
s_is_space (char c)
{
    return c == ' ' || c == '\t';
}

//  Takes the next comma-separated item of *cursor, blanks trimmed. Returns
//  false when the text is used up. An empty item ("a,,b") has length 0.
static bool
s_next_item (const char **cursor, span_t *item)
{
    const char *text = *cursor;
    if (!text)
        return false;
    const char *comma = strchr (text, ',');
    const char *end = comma ? comma : text + strlen (text);
    *cursor = comma ? comma + 1 : NULL;
    while (text < end && s_is_space (*text))
        text++;
    while (end > text && s_is_space (end [-1]))
        end--;
    item->start = text;
    item->length = (size_t) (end - text);
    return true;
}

static bool
s_span_is (span_t span, const char *word)
{
    return strlen (word) == span.length && memcmp (span.start, word, span.length) == 0;
}

//  Splits span at its first '-' into from and to. Returns false when none.
static bool
s_split_range (span_t span, span_t *from, span_t *to)
{
    const char *dash = memchr (span.start, '-', span.length);
    if (!dash)
        return false;
    from->start = span.start;
    from->length = (size_t) (dash - span.start);
    to->start = dash + 1;
    to->length = span.length - from->length - 1;
    return true;
}

//  A glob key: any text but the empty one.
static int
s_parse_glob (config_t *section, const char *key, const char **glob,
              char *error, size_t error_size)
{
    config_t *node = config_locate (section, key);
    *glob = "*";
    if (!node)
        return 0;
    if (!*config_value (node))
        return s_key_error (node, error, error_size, "is empty (leave it out, or use *, to match any)");
    *glob = config_value (node);
    return 0;
}

static int
s_parse_levels (config_t *node, unsigned *levels, char *error, size_t error_size)
{
    const char *cursor = config_value (node);
    span_t item;
    *levels = 0;
    while (s_next_item (&cursor, &item)) {
        char name [16];
        alert_level_t level;
        if (item.length >= sizeof name
        ||  (snprintf (name, sizeof name, "%.*s", (int) item.length, item.start),
             alert_level_parse (name, &level)))
            return s_key_error (node, error, error_size, "'%.*s' is not a level (urgent normal low)",
                                (int) item.length, item.start);
        *levels |= 1u << level;
    }
    return 0;
}

static int
s_parse_events (config_t *node, unsigned *events, char *error, size_t error_size)
{
    const char *cursor = config_value (node);
    span_t item;
    *events = 0;
    while (s_next_item (&cursor, &item)) {
        size_t index = 0;
        while (index < S_EVENT_COUNT && !s_span_is (item, s_events [index].name))
            index++;
        if (index == S_EVENT_COUNT)
            return s_key_error (node, error, error_size,
                                "'%.*s' is not an event (raised reminder cleared acked unacked)",
                                (int) item.length, item.start);
        *events |= s_events [index].bit;
    }
    return 0;
}

//  An hour from 0 to max, one or two digits. Returns 0 or -1.
static int
s_parse_hour (span_t span, int max, int *hour)
{
    if (span.length < 1 || span.length > 2)
        return -1;
    int value = 0;
    for (size_t index = 0; index < span.length; index++) {
        if (span.start [index] < '0' || span.start [index] > '9')
            return -1;
        value = value * 10 + (span.start [index] - '0');
    }
    if (value > max)
        return -1;
    *hour = value;
    return 0;
}

//  Hours: "8-18" (08:00 to 17:59), "22-6" (wraps past midnight), "0-24"
//  (all day), "9" (09:00 to 09:59), or a comma list of those.
static int
s_parse_hours (config_t *node, uint32_t *hours, char *error, size_t error_size)
{
    const char *cursor = config_value (node);
    span_t item, from_text, to_text;
    *hours = 0;
    while (s_next_item (&cursor, &item)) {
        int from, to;
        if (!s_split_range (item, &from_text, &to_text)) {
            if (s_parse_hour (item, 23, &from))
                goto bad;
            *hours |= 1u << from;
            continue;
        }
        if (s_parse_hour (from_text, 23, &from) || s_parse_hour (to_text, 24, &to))
            goto bad;
        if (from == to)
            return s_key_error (node, error, error_size,
                                "'%.*s' is an empty range (0-24 is all day)",
                                (int) item.length, item.start);
        int hour = from;
        do {
            *hours |= 1u << hour;
            hour = (hour + 1) % 24;
        } while (hour != to % 24);
        continue;
    bad:
        return s_key_error (node, error, error_size,
                            "'%.*s' is not hours (like 8-18, 22-6 or 0-24)",
                            (int) item.length, item.start);
    }
    return 0;
}

//  A lowercase three-letter day name. Returns its tm_wday or -1.
static int
s_day_index (span_t span)
{
    for (int day = 0; day < 7; day++)
        if (s_span_is (span, s_day_names [day]))
            return day;
    return -1;
}

//  Days: "mon-fri", "sat,sun", "mon,wed-fri"; a range may wrap ("fri-mon").
static int
s_parse_days (config_t *node, unsigned *days, char *error, size_t error_size)
{
    const char *cursor = config_value (node);
    span_t item, from_text, to_text;
    *days = 0;
    while (s_next_item (&cursor, &item)) {
        int from, to;
        if (s_split_range (item, &from_text, &to_text)) {
            from = s_day_index (from_text);
            to = s_day_index (to_text);
        }
        else
            from = to = s_day_index (item);
        if (from < 0 || to < 0)
            return s_key_error (node, error, error_size,
                                "'%.*s' is not a day (mon tue wed thu fri sat sun)",
                                (int) item.length, item.start);
        for (int day = from; ; day = (day + 1) % 7) {
            *days |= 1u << day;
            if (day == to)
                break;
        }
    }
    return 0;
}

//  Labels: "team=ops,env=prod*". Every key must be there and match its glob.
static int
s_parse_labels (config_t *node, rule_t *rule, char *error, size_t error_size)
{
    const char *cursor = config_value (node);
    span_t item;
    while (s_next_item (&cursor, &item)) {
        const char *equals = memchr (item.start, '=', item.length);
        if (!equals || equals == item.start)
            return s_key_error (node, error, error_size, "'%.*s' is not KEY=GLOB",
                                (int) item.length, item.start);
        size_t key_length = (size_t) (equals - item.start);
        label_match_t *match;
        rule->labels = (label_match_t *) mem_realloc (rule->labels,
                                                      (rule->label_count + 1) * sizeof *match);
        match = &rule->labels [rule->label_count++];
        match->key = (char *) mem_alloc (key_length + 1);
        memcpy (match->key, item.start, key_length);
        size_t glob_length = item.length - key_length - 1;
        match->glob = (char *) mem_alloc (glob_length + 1);
        memcpy (match->glob, equals + 1, glob_length);
    }
    return 0;
}

//  A duration key; *ms keeps its default when the key is absent.
static int
s_parse_duration (config_t *section, const char *key, bool zero_ok, int64_t *ms,
                  char *error, size_t error_size)
{
    config_t *node = config_locate (section, key);
    if (!node)
        return 0;
    if (duration_parse (config_value (node), ms))
        return s_key_error (node, error, error_size,
                            "'%s' is not a duration (like 30s, 5m, 2h, 7d or 500ms)",
                            config_value (node));
    if (*ms == 0 && !zero_ok)
        return s_key_error (node, error, error_size, "'%s' must be longer than 0s",
                            config_value (node));
    return 0;
}

//  Flood limit: "N per DURATION", N from 1 to RULES_MAX_LIMIT.
static int
s_parse_limit (config_t *node, rule_t *rule, char *error, size_t error_size)
{
    const char *value = config_value (node);
    char count_text [24], per [8], period_text [32], rest [2];
    int fields = sscanf (value, "%23s %7s %31s %1s", count_text, per, period_text, rest);
    char *end = NULL;
    long long count = fields == 3 ? strtoll (count_text, &end, 10) : 0;
    if (fields != 3 || strcmp (per, "per") != 0 || count_text [0] < '0'
    ||  count_text [0] > '9' || *end
    ||  duration_parse (period_text, &rule->period) || rule->period == 0)
        return s_key_error (node, error, error_size,
                            "'%s' is not N per DURATION (like 10 per 1h)", value);
    if (count < 1 || count > RULES_MAX_LIMIT)
        return s_key_error (node, error, error_size, "'%s': N must be from 1 to %d",
                            value, RULES_MAX_LIMIT);
    rule->limit = (size_t) count;
    rule->window = (int64_t *) mem_alloc (rule->limit * sizeof (int64_t));
    return 0;
}

//  --------------------------------------------------------------------------
//  Loading

static void
s_free_time (void **item_p)
{
    mem_free (*item_p);
    *item_p = NULL;
}

static void
s_rule_free (rule_t *rule)
{
    for (size_t index = 0; index < rule->label_count; index++) {
        mem_free (rule->labels [index].key);
        mem_free (rule->labels [index].glob);
    }
    mem_free (rule->labels);
    mem_free (rule->window);
    mem_free (rule->destination_text);
    zhashx_destroy (&rule->acted);
}

//  Reads the optional list keys (level, on, hours, days, labels, limit).
//  Adds error when rc says a step failed.
static void
s_step (config_report_t *errors, int rc, const char *error)
{
    if (rc)
        config_report_error (errors, error);
}

//  The list keys: level, on, hours, days, labels, limit; each bad one added.
static void
s_rule_lists (rule_t *rule, config_report_t *errors)
{
    char error [CONFIG_ERROR_SIZE];
    config_t *node;
    if ((node = config_locate (rule->settings, "level"))) {
        rule->level_text = config_value (node);
        s_step (errors, s_parse_levels (node, &rule->levels, error, sizeof error), error);
    }
    if ((node = config_locate (rule->settings, "on")))
        s_step (errors, s_parse_events (node, &rule->events, error, sizeof error), error);
    if ((node = config_locate (rule->settings, "hours"))) {
        rule->hours_text = config_value (node);
        s_step (errors, s_parse_hours (node, &rule->hours, error, sizeof error), error);
    }
    if ((node = config_locate (rule->settings, "days"))) {
        rule->days_text = config_value (node);
        s_step (errors, s_parse_days (node, &rule->days, error, sizeof error), error);
    }
    if ((node = config_locate (rule->settings, "labels"))) {
        rule->labels_text = config_value (node);
        s_step (errors, s_parse_labels (node, rule, error, sizeof error), error);
    }
    if ((node = config_locate (rule->settings, "limit")))
        s_step (errors, s_parse_limit (node, rule, error, sizeof error), error);
}

//  The rule's destination: the first key of destination_key ("url" of
//  "url,format,room,to"), else "default"; each further key the rule sets
//  adds " KEY=VALUE" (two rules to one URL in other formats or rooms are
//  two destinations).
static int
s_rule_destination (rule_t *rule, const char *destination_key,
                    char *error, size_t error_size)
{
    rule->destination = "default";
    if (!destination_key)
        return 0;
    char key [64];
    const char *rest = config_list_next (destination_key, key, sizeof key);
    config_t *node = config_locate (rule->settings, key);
    if (node && !*config_value (node))
        return s_key_error (node, error, error_size,
                            "is empty (leave it out for the default destination)");
    if (node)
        rule->destination = config_value (node);
    zchunk_t *text = NULL;
    while (rest && (rest = config_list_next (rest, key, sizeof key))) {
        config_t *refining = config_locate (rule->settings, key);
        if (!refining || !*config_value (refining))
            continue;
        if (!text) {
            text = zchunk_new (rule->destination, strlen (rule->destination));
        }
        char *part = zsys_sprintf (" %s=%s", key, config_value (refining));
        if (part)
            zchunk_extend (text, part, strlen (part));
        zstr_free (&part);
    }
    if (text) {
        zchunk_extend (text, "", 1);
        rule->destination_text = mem_strdup ((const char *) zchunk_data (text));
        rule->destination = rule->destination_text;
        zchunk_destroy (&text);
    }
    return 0;
}

//  Fills *rule from its section, adding every bad key to errors. -1 when
//  one was bad: the caller frees what was set.
static int
s_rule_load (rule_t *rule, config_t *section, const char *const *known,
             const char *destination_key, config_report_t *errors)
{
    rule->settings = section;
    rule->name = config_value (section);
    rule->levels = ALL_LEVELS;
    rule->events = EVENT_RAISED | EVENT_REMINDER;
    rule->hours = ALL_HOURS;
    rule->days = ALL_DAYS;
    rule->after = -1;
    size_t before = config_report_count (errors);
    char error [CONFIG_ERROR_SIZE];
    config_report_check_keys (errors, section, known);
    s_step (errors, s_parse_glob (section, "source", &rule->source, error, sizeof error), error);
    s_step (errors, s_parse_glob (section, "id", &rule->id, error, sizeof error), error);
    s_step (errors, s_parse_glob (section, "subject", &rule->subject, error, sizeof error), error);
    s_rule_lists (rule, errors);
    s_step (errors, s_parse_duration (section, "every", false, &rule->every, error, sizeof error),
            error);
    s_step (errors, s_parse_duration (section, "after", true, &rule->after, error, sizeof error),
            error);
    s_step (errors, s_rule_destination (rule, destination_key, error, sizeof error), error);
    if (config_report_count (errors) > before)
        return -1;
    if (rule->every > 0)
        rule->events |= EVENT_REMINDER;
    if (rule->every > 0 || rule->after >= 0) {
        rule->acted = zhashx_new ();
        zhashx_set_destructor (rule->acted, s_free_time);
    }
    return 0;
}

//  The rule keys plus the destination's, NULL-terminated; caller frees.
static const char **
s_known_keys (const char *const *extra_keys, const char *destination_key)
{
    size_t base = sizeof s_rule_keys / sizeof s_rule_keys [0] - 1;
    size_t extra = 0;
    while (extra_keys && extra_keys [extra])
        extra++;
    const char **known = (const char **) mem_alloc ((base + extra + 2) * sizeof *known);
    size_t count = 0;
    for (size_t index = 0; index < base; index++)
        known [count++] = s_rule_keys [index];
    for (size_t index = 0; index < extra; index++)
        known [count++] = extra_keys [index];
    if (destination_key)                //  its first key; the others are in extra_keys
        known [count++] = destination_key;
    known [count] = NULL;
    return known;
}

//  A rule's name must be there and not used by an earlier rule.
static void
s_check_name (rules_t *self, config_t *section, config_report_t *errors)
{
    if (!*config_value (section)) {
        config_report_at (errors, section, "rule needs a name (rule = NAME)");
        return;
    }
    for (size_t index = 0; index < self->count; index++)
        if (strcmp (self->rules [index].name, config_value (section)) == 0) {
            config_report_at (errors, section, "rule '%s' is defined twice (first at line %d)",
                              config_value (section),
                              config_line (self->rules [index].settings));
            return;
        }
}

rules_t *
rules_load_all (config_t *root, const char *const *extra_keys,
                const char *destination_key, config_report_t *errors)
{
    if (!root) {
        config_report_error (errors, "no config");
        return NULL;
    }
    rules_t *self = (rules_t *) mem_alloc (sizeof *self);
    const char **known = s_known_keys (extra_keys, destination_key);
    size_t before = config_report_count (errors);
    for (config_t *section = config_child (root); section; section = config_next (section)) {
        if (strcmp (config_name (section), "rule") != 0)
            continue;
        s_check_name (self, section, errors);
        self->rules = (rule_t *) mem_realloc (self->rules, (self->count + 1) * sizeof (rule_t));
        rule_t *rule = &self->rules [self->count++];
        memset (rule, 0, sizeof *rule);
        s_rule_load (rule, section, (const char *const *) known, destination_key, errors);
    }
    mem_free (known);
    if (self->count == 0) {
        char error [CONFIG_ERROR_SIZE];
        snprintf (error, sizeof error, "%s: no rule = NAME section: this notifier would never"
                  " notify", config_file (root));
        config_report_error (errors, error);
    }
    if (config_report_count (errors) > before)
        rules_destroy (&self);
    return self;
}

rules_t *
rules_load (config_t *root, const char *const *extra_keys,
            const char *destination_key, char *error, size_t error_size)
{
    config_report_t *errors = config_report_new ();
    rules_t *self = rules_load_all (root, extra_keys, destination_key, errors);
    if (!self)
        error_text (error, error_size, -1, "%s", config_report_get (errors, 0)
                    ? config_report_get (errors, 0) : "too many errors");
    config_report_destroy (&errors);
    return self;
}

void
rules_destroy (rules_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rules_t *self = *self_p;
    for (size_t index = 0; index < self->count; index++)
        s_rule_free (&self->rules [index]);
    mem_free (self->rules);
    mem_free (self);
    *self_p = NULL;
}

size_t
rules_count (rules_t *self)
{
    return self ? self->count : 0;
}

//  --------------------------------------------------------------------------
//  Describing

void
rules_shown_secret (const char *destination, char *out, size_t size)
{
    if (strcmp (destination, "default") == 0)
        snprintf (out, size, "default");
    else
        snprintf (out, size, "%.3s… (%zu characters, not shown)", destination,
                  strlen (destination));
}

static void
s_describe_rule (rule_t *rule, FILE *out, rules_shown_fn *shown)
{
    char destination [1024];
    if (shown)
        shown (rule->destination, destination, sizeof destination);
    else
        snprintf (destination, sizeof destination, "%s", rule->destination);
    fprintf (out, "rule %s → destination %s: ", rule->name, destination);
    const char *separator = "";
    for (size_t index = 0; index < S_EVENT_COUNT; index++)
        if (rule->events & s_events [index].bit) {
            fprintf (out, "%s%s", separator, s_events [index].name);
            separator = ", ";
        }
    fprintf (out, " of source %s id %s", rule->source, rule->id);
    if (strcmp (rule->subject, "*") != 0)
        fprintf (out, " subject %s", rule->subject);
    fprintf (out, " level %s", rule->level_text ? rule->level_text : "any");
    if (rule->labels_text)
        fprintf (out, " labels %s", rule->labels_text);
    char duration [32];
    if (rule->every > 0)
        fprintf (out, "; every %s", duration_format (rule->every, duration, sizeof duration));
    if (rule->after >= 0)
        fprintf (out, "; after %s", duration_format (rule->after, duration, sizeof duration));
    if (rule->limit)
        fprintf (out, "; at most %zu per %s", rule->limit,
                 duration_format (rule->period, duration, sizeof duration));
    if (rule->hours_text || rule->days_text)
        fprintf (out, "; hours %s, days %s",
                 rule->hours_text ? rule->hours_text : "0-24",
                 rule->days_text ? rule->days_text : "mon-sun");
    else
        fprintf (out, "; at any time");
    fprintf (out, "\n");
}

void
rules_describe (rules_t *self, FILE *out, rules_shown_fn *shown)
{
    if (!self || !out)
        return;
    for (size_t index = 0; index < self->count; index++)
        s_describe_rule (&self->rules [index], out, shown);
}

//  --------------------------------------------------------------------------
//  Deciding

//  EVENT_* bit of a change's event name, 0 for events no rule acts on.
static unsigned
s_event_bit (const char *event)
{
    for (size_t index = 0; event && index < S_EVENT_COUNT; index++)
        if (strcmp (event, s_events [index].name) == 0)
            return s_events [index].bit;
    return 0;
}

static bool
s_glob_matches (const char *glob, const char *text)
{
    return fnmatch (glob, text ? text : "", 0) == 0;
}

static bool
s_labels_match (const rule_t *rule, const alert_t *alert)
{
    for (size_t index = 0; index < rule->label_count; index++) {
        const label_match_t *match = &rule->labels [index];
        size_t label = 0;
        while (label < alert->label_count
           &&  strcmp (alert->labels [label].key, match->key) != 0)
            label++;
        if (label == alert->label_count
        ||  !s_glob_matches (match->glob, alert->labels [label].value))
            return false;
    }
    return true;
}

//  What the alert is and when: everything but the rule's memory.
static bool
s_rule_selects (const rule_t *rule, const alert_t *alert, unsigned event,
                const struct tm *local)
{
    const char *subject = alert->subject ? alert->subject : alert->source;
    return (rule->events & event)
        && (rule->levels & (1u << alert->level))
        && (rule->hours & (1u << local->tm_hour))
        && (rule->days & (1u << local->tm_wday))
        && s_glob_matches (rule->source, alert->source)
        && s_glob_matches (rule->id, alert->id)
        && s_glob_matches (rule->subject, subject)
        && s_labels_match (rule, alert);
}

//  "source\x1fid", the alert's key in a rule's memory; caller frees.
static char *
s_alert_key (const alert_t *alert)
{
    const char *source = alert->source ? alert->source : "";
    const char *id = alert->id ? alert->id : "";
    size_t size = strlen (source) + strlen (id) + 2;
    char *key = (char *) mem_alloc (size);
    snprintf (key, size, "%s\x1f%s", source, id);
    return key;
}

//  When this rule last acted for the alert, or NULL if never (or forgotten).
static const int64_t *
s_last_acted (const rule_t *rule, const char *key)
{
    return rule->acted ? (const int64_t *) zhashx_lookup (rule->acted, key) : NULL;
}

//  Forgets the alert this rule acted on longest ago.
static void
s_forget_oldest (rule_t *rule)
{
    char *oldest_key = NULL;
    int64_t oldest = INT64_MAX;
    for (int64_t *last = (int64_t *) zhashx_first (rule->acted); last;
         last = (int64_t *) zhashx_next (rule->acted))
        if (*last < oldest) {
            oldest = *last;
            mem_free (oldest_key);
            oldest_key = mem_strdup ((const char *) zhashx_cursor (rule->acted));
        }
    if (oldest_key)
        zhashx_delete (rule->acted, oldest_key);
    mem_free (oldest_key);
}

//  Remembers that this rule acted for the alert at now.
static void
s_remember (rule_t *rule, const char *key, int64_t now)
{
    if (!rule->acted)
        return;
    int64_t *last = (int64_t *) zhashx_lookup (rule->acted, key);
    if (!last) {
        if (zhashx_size (rule->acted) >= RULES_MAX_TRACKED)
            s_forget_oldest (rule);
        last = (int64_t *) mem_alloc (sizeof *last);
        zhashx_insert (rule->acted, key, last);
    }
    *last = now;
}

//  `after` and `every`: does the rule's memory let it act on this change?
static bool
s_rule_due (const rule_t *rule, const alert_change_t *change, unsigned event,
            const char *key, int64_t now)
{
    const alert_t *alert = &change->alert;
    const int64_t *last = s_last_acted (rule, key);
    bool raising = event == EVENT_RAISED || event == EVENT_REMINDER;
    if (rule->after >= 0) {
        if (raising && (alert->state != ALERT_RAISED || now - alert->changed_at < rule->after))
            return false;
        if (!raising && !last)
            return false;
    }
    if (event == EVENT_REMINDER && rule->every > 0 && last && now - *last < rule->every)
        return false;
    return true;
}

//  The earlier rule that decided for this rule's destination in this
//  decision, or NULL.
static const rule_t *
s_destination_claimer (const rules_t *self, size_t upto)
{
    const rule_t *rule = &self->rules [upto];
    for (size_t index = 0; index < upto; index++)
        if (self->rules [index].claimed == self->serial
        &&  strcmp (self->rules [index].destination, rule->destination) == 0)
            return &self->rules [index];
    return NULL;
}

//  Action slots the rule's decision may take: FLOOD_OVER and NOTIFY at most.
static size_t
s_actions_needed (const rule_t *rule)
{
    return rule->limit && rule->flooding ? 2 : 1;
}

//  Drops window times that have left the period before now.
static void
s_window_prune (rule_t *rule, int64_t now)
{
    while (rule->window_used > 0 && rule->window [rule->window_first] <= now - rule->period) {
        rule->window_first = (rule->window_first + 1) % rule->limit;
        rule->window_used--;
    }
}

static rule_action_t *
s_add_action (rule_action_t *actions, size_t *count, rule_action_kind_t kind,
              const rule_t *rule)
{
    rule_action_t *action = &actions [(*count)++];
    memset (action, 0, sizeof *action);
    action->kind = kind;
    action->rule = rule->name;
    action->destination = rule->destination;
    action->settings = rule->settings;
    return action;
}

//  The rule decided for its destination: notify, unless its flood limit
//  holds the change back. Returns true when it notified.
static bool
s_rule_notify (rule_t *rule, int64_t now, rule_action_t *actions, size_t *count)
{
    if (rule->limit) {
        s_window_prune (rule, now);
        if (rule->window_used == rule->limit) {
            if (!rule->flooding)
                s_add_action (actions, count, ACTION_FLOOD_HELD, rule);
            rule->flooding = true;
            rule->held++;
            return false;
        }
        if (rule->flooding)
            s_add_action (actions, count, ACTION_FLOOD_OVER, rule)->held = rule->held;
        rule->flooding = false;
        rule->held = 0;
        rule->window [(rule->window_first + rule->window_used) % rule->limit] = now;
        rule->window_used++;
    }
    s_add_action (actions, count, ACTION_NOTIFY, rule);
    return true;
}

//  A cleared alert is forgotten by every rule.
static void
s_forget_alert (rules_t *self, const char *key)
{
    for (size_t index = 0; index < self->count; index++)
        if (self->rules [index].acted)
            zhashx_delete (self->rules [index].acted, key);
}

size_t
rules_decide (rules_t *self, const alert_change_t *change, int64_t now,
              rule_action_t *actions, size_t capacity)
{
    if (!self || !change || (!actions && capacity))
        return 0;
    unsigned event = s_event_bit (change->event);
    char *key = s_alert_key (&change->alert);
    time_t seconds = (time_t) (now / 1000);
    struct tm local;
    bool known_time = localtime_r (&seconds, &local) != NULL;
    //  A silenced alert (a live silence covers it) is skipped as a suppressed one.
    bool suppressed = change->alert.suppress_until > now || change->alert.silenced_by;
    size_t count = 0;
    self->serial++;
    for (size_t index = 0; index < self->count && event && known_time && !suppressed; index++) {
        rule_t *rule = &self->rules [index];
        if (!s_rule_selects (rule, &change->alert, event, &local)
        ||  !s_rule_due (rule, change, event, key, now))
            continue;
        const rule_t *claimer = s_destination_claimer (self, index);
        if (claimer) {
            if (claimer->claim_told)
                s_remember (rule, key, now);    //  its destination was told
            continue;
        }
        if (capacity - count < s_actions_needed (rule))
            continue;                   //  does not fit: as if it had not matched
        rule->claimed = self->serial;
        rule->claim_told = s_rule_notify (rule, now, actions, &count);
        if (rule->claim_told)
            s_remember (rule, key, now);
    }
    if (event == EVENT_CLEARED)
        s_forget_alert (self, key);
    mem_free (key);
    return count;
}

size_t
rules_destinations (rules_t *self, rule_action_t *actions, size_t capacity)
{
    size_t count = 0;
    for (size_t index = 0; self && index < self->count && count < capacity; index++) {
        const rule_t *rule = &self->rules [index];
        bool seen = false;
        for (size_t earlier = 0; earlier < count && !seen; earlier++)
            seen = strcmp (actions [earlier].destination, rule->destination) == 0;
        if (!seen)
            s_add_action (actions, &count, ACTION_NOTIFY, rule);
    }
    return count;
}
