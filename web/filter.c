/*  filter.c — the alert filters of the API. See filter.h.
*/
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "filter.h"

//  Query arguments, as MHD iterates them (a key may repeat).
static enum MHD_Result
s_read_argument (void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    filter_t *filter = arg;
    if (!value)
        value = "";
    if (strcmp (key, "state") == 0) {
        char states [256];
        snprintf (states, sizeof states, "%s", value);
        for (char *name = strtok (states, ","); name; name = strtok (NULL, ",")) {
            alert_state_t state;
            if (alert_state_parse (name, &state) == 0)
                filter->states [state] = true;
            else
                snprintf (filter->error, sizeof filter->error, "state: '%.40s' is not pending,"
                          " raised, acked or cleared", name);
        }
    }
    else
    if (strcmp (key, "source") == 0)
        snprintf (filter->source, sizeof filter->source, "%s", value);
    else
    if (strcmp (key, "id") == 0)
        snprintf (filter->id, sizeof filter->id, "%s", value);
    else
    if (strcmp (key, "q") == 0)
        snprintf (filter->q, sizeof filter->q, "%s", value);
    else
    if (strcmp (key, "label") == 0) {
        if (!strchr (value, '=') || filter->label_count == FILTER_VALUES
        ||  strlen (value) >= sizeof filter->labels [0])
            snprintf (filter->error, sizeof filter->error,
                      "label: KEY=VALUE, at most %d of them", FILTER_VALUES);
        else
            snprintf (filter->labels [filter->label_count++], sizeof filter->labels [0], "%s",
                      value);
    }
    return MHD_YES;
}

static const char *
s_label (const alert_t *alert, const char *key, size_t key_length)
{
    for (size_t index = 0; index < alert->label_count; index++)
        if (strlen (alert->labels [index].key) == key_length
        &&  strncmp (alert->labels [index].key, key, key_length) == 0)
            return alert->labels [index].value;
    return NULL;
}

static bool
s_contains (const char *text, const char *needle)
{
    return text && strcasestr (text, needle) != NULL;
}

static bool
s_text_matches (const alert_t *alert, const char *q)
{
    if (s_contains (alert->source, q) || s_contains (alert->id, q)
    ||  s_contains (alert->subject, q) || s_contains (alert->summary, q))
        return true;
    for (size_t index = 0; index < alert->label_count; index++)
        if (s_contains (alert->labels [index].value, q))
            return true;
    return false;
}

bool
filter_matches (const filter_t *filter, const alert_t *alert)
{
    bool any_state = !filter->states [0] && !filter->states [1]
                  && !filter->states [2] && !filter->states [3];
    if (!any_state && !filter->states [alert->state])
        return false;
    if ((*filter->source && fnmatch (filter->source, alert->source, 0))
    ||  (*filter->id && fnmatch (filter->id, alert->id, 0))
    ||  (*filter->q && !s_text_matches (alert, filter->q)))
        return false;
    for (size_t index = 0; index < filter->label_count; index++) {
        const char *pair = filter->labels [index];
        const char *equals = strchr (pair, '=');
        const char *value = s_label (alert, pair, (size_t) (equals - pair));
        if (!value || strcmp (value, equals + 1))
            return false;
    }
    return true;
}

int
filter_read (filter_t *filter, http_request_t *request)
{
    memset (filter, 0, sizeof *filter);
    http_each_query (request, s_read_argument, filter);
    return *filter->error ? -1 : 0;
}
