/* calrep's C ABI as a C host uses it: a simulator, an engine, a real
 * replication over HTTP, reading it back, and every error path the API
 * promises. Exits non-zero at the first broken promise. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "calrep.h"

static int failures = 0;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__,         \
                    __LINE__, #cond);                                      \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
            failures++;                                                    \
        }                                                                  \
    } while (0)

#define TEXT(s) (const uint8_t *)(s), strlen(s)

/* A call expected to fail with `want`: checks the status, the error object
 * and its message, then frees it. `errp` is read after the call (argument
 * values are taken before it), and reset. */
static void expect_error(calrep_status got, calrep_error **errp, calrep_status want,
                         const char *needle, const char *what) {
    calrep_error *err = *errp;
    *errp = NULL;
    CHECK(got == want, "%s: status %u, want %u", what, (unsigned)got, (unsigned)want);
    CHECK(err != NULL, "%s: no error object", what);
    if (err != NULL) {
        CHECK(calrep_error_status(err) == want, "%s: error status", what);
        const char *message = calrep_error_message(err);
        CHECK(needle == NULL || strstr(message, needle) != NULL,
              "%s: message \"%s\" lacks \"%s\"", what, message, needle);
        calrep_error_free(err);
    }
}

static void version(void) {
    char want[64];
    snprintf(want, sizeof want, "calrep-ffi/%s", CALREP_VERSION);
    CHECK(strcmp(calrep_version(), want) == 0, "version %s", calrep_version());
    CHECK(calrep_json_version() == CALREP_JSON_VERSION, "JSON version %u", calrep_json_version());
}

static void nulls_and_frees(void) {
    calrep_error *err = NULL;
    /* Freeing NULL does nothing. */
    calrep_error_free(NULL);
    calrep_string_free(NULL);
    calrep_engine_free(NULL);
    calrep_sim_free(NULL);
    calrep_runtime_free(NULL);
    CHECK(calrep_error_status(NULL) == CALREP_STATUS_NULL_PARAMETER, "status of NULL");
    CHECK(strcmp(calrep_error_message(NULL), "") == 0, "message of NULL");
    CHECK(calrep_string_len(NULL) == 0, "len of NULL");
    /* A NULL out-pointer is a status, with or without an error object. */
    CHECK(calrep_runtime_new(1, NULL, NULL) == CALREP_STATUS_NULL_PARAMETER, "runtime out NULL");
    expect_error(calrep_runtime_new(1, NULL, &err), &err, CALREP_STATUS_NULL_PARAMETER, "out",
                 "runtime out NULL with error");
    calrep_string *json = NULL;
    expect_error(calrep_expand(NULL, 0, TEXT("2026-01-01"), NULL, 0, NULL, 0, TEXT("2026-01-01T00:00:00Z"),
                               TEXT("2027-01-01T00:00:00Z"), &json, &err),
                 &err, CALREP_STATUS_NULL_PARAMETER, "rrule", "expand without a rule");
    CHECK(json == NULL, "output written on failure");
}

/* Freed, forged and mistyped handles are refused without being read, and
 * a second free does nothing. */
static void stale_handles(void) {
    calrep_error *err = NULL;
    calrep_runtime *rt = NULL;
    CHECK(calrep_runtime_new(1, &rt, NULL) == CALREP_STATUS_OK, "runtime");
    calrep_runtime_free(rt);
    calrep_runtime_free(rt);
    calrep_sim *sim = NULL;
    expect_error(calrep_sim_start(rt, 1, 10, &sim, &err), &err, CALREP_STATUS_STALE_HANDLE,
                 "runtime is not a live calrep_runtime", "a freed runtime");

    calrep_string *json = NULL;
    CHECK(calrep_expand(TEXT("FREQ=DAILY;COUNT=2"), TEXT("2026-03-01"), NULL, 0, NULL, 0,
                        TEXT("2026-01-01T00:00:00Z"), TEXT("2027-01-01T00:00:00Z"), &json, NULL) == CALREP_STATUS_OK,
          "expand");
    /* A string is not an engine. */
    calrep_string *report = NULL;
    expect_error(calrep_engine_run((const calrep_engine *)json, TEXT("t"), 0, &report, &err), &err,
                 CALREP_STATUS_STALE_HANDLE, "engine is not a live calrep_engine", "a string as an engine");
    calrep_string_free(json);
    calrep_string_free(json);
    CHECK(calrep_string_len(json) == 0 && strcmp(calrep_string_ptr(json), "") == 0, "a freed string reads empty");

    CHECK(calrep_runtime_new(1, NULL, &err) == CALREP_STATUS_NULL_PARAMETER, "an error to free twice");
    calrep_error_free(err);
    CHECK(calrep_error_status(err) == CALREP_STATUS_STALE_HANDLE, "status of a freed error");
    calrep_error_free(err);
    err = NULL;

    /* A NUL inside a string argument is refused, not cut short. */
    const uint8_t with_nul[] = "FREQ=DAILY\0;COUNT=2";
    expect_error(calrep_expand(with_nul, sizeof with_nul - 1, TEXT("2026-03-01"), NULL, 0, NULL, 0,
                               TEXT("2026-01-01T00:00:00Z"), TEXT("2027-01-01T00:00:00Z"), &json, &err),
                 &err, CALREP_STATUS_INVALID_ARGUMENT, "rrule contains a NUL byte (at byte 10)", "NUL inside");
}

static void expand(void) {
    calrep_error *err = NULL;
    calrep_string *json = NULL;
    /* The last weekday of each month at 17:00 Berlin time, three times. */
    calrep_status s = calrep_expand(TEXT("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=3"),
                                    TEXT("2026-03-31T17:00:00"), TEXT("W. Europe Standard Time"),
                                    NULL, 0, TEXT("2026-01-01T00:00:00Z"), TEXT("2027-01-01T00:00:00Z"),
                                    &json, &err);
    CHECK(s == CALREP_STATUS_OK, "expand: %s", err ? calrep_error_message(err) : "");
    CHECK(json != NULL && strcmp(calrep_string_ptr(json),
                                 "[\"2026-03-31T15:00:00Z\",\"2026-04-30T15:00:00Z\",\"2026-05-29T15:00:00Z\"]") == 0,
          "expand result %s", json ? calrep_string_ptr(json) : "(none)");
    CHECK(json == NULL || calrep_string_len(json) == strlen(calrep_string_ptr(json)), "length");
    calrep_string_free(json);
    json = NULL;

    /* With an excluded date. */
    s = calrep_expand(TEXT("FREQ=DAILY;COUNT=3"), TEXT("2026-03-28T09:00:00"), TEXT("Europe/Berlin"),
                      TEXT("2026-03-29T09:00:00"), TEXT("2026-01-01T00:00:00Z"),
                      TEXT("2027-01-01T00:00:00Z"), &json, NULL);
    CHECK(s == CALREP_STATUS_OK && strcmp(calrep_string_ptr(json),
                                          "[\"2026-03-28T08:00:00Z\",\"2026-03-30T07:00:00Z\"]") == 0,
          "exdate %s", calrep_string_ptr(json));
    calrep_string_free(json);
    json = NULL;

    expect_error(calrep_expand(TEXT("FREQ=DAILY;BYHOUR=25"), TEXT("2026-03-01T09:00:00"), NULL, 0, NULL, 0,
                               TEXT("2026-01-01T00:00:00Z"), TEXT("2027-01-01T00:00:00Z"), &json, &err),
                 &err, CALREP_STATUS_RECURRENCE_INVALID, "BYHOUR=25: must be between 0 and 23", "bad rule");
    expect_error(calrep_expand(TEXT("FREQ=DAILY"), TEXT("2026-03-01T09:00:00"), TEXT("Europe/Atlantis"), NULL, 0,
                               TEXT("2026-01-01T00:00:00Z"), TEXT("2027-01-01T00:00:00Z"), &json, &err),
                 &err, CALREP_STATUS_RECURRENCE_INVALID, "Europe/Atlantis", "unknown zone");
    expect_error(calrep_expand(TEXT("FREQ=DAILY"), TEXT("2026-03-01T09:00:00"), NULL, 0, NULL, 0,
                               TEXT("yesterday"), TEXT("2027-01-01T00:00:00Z"), &json, &err),
                 &err, CALREP_STATUS_INVALID_ARGUMENT, "from", "bad window");
    const uint8_t bad_utf8[] = {'F', 'R', 'E', 'Q', 0xC3, 0x28};
    expect_error(calrep_expand(bad_utf8, sizeof bad_utf8, TEXT("2026-03-01"), NULL, 0, NULL, 0,
                               TEXT("2026-01-01T00:00:00Z"), TEXT("2027-01-01T00:00:00Z"), &json, &err),
                 &err, CALREP_STATUS_INVALID_UTF8, "UTF-8", "invalid UTF-8");
    CHECK(json == NULL, "output written on failure");
}

/* What the callbacks saw; they run on the library's threads. */
struct seen {
    atomic_int events;
    atomic_int finalized;
    atomic_int done;
    atomic_uint status;
    char report_head[4096];
};

static void on_event(void *user_data, const char *json, size_t len) {
    struct seen *seen = user_data;
    if (json != NULL && strlen(json) == len && strncmp(json, "{\"event\":", 9) == 0) atomic_fetch_add(&seen->events, 1);
}

static void on_finalize(void *user_data) {
    struct seen *seen = user_data;
    atomic_fetch_add(&seen->finalized, 1);
}

static void on_done(void *user_data, calrep_status status, const calrep_string *report, const calrep_error *error) {
    struct seen *seen = user_data;
    const char *text = report != NULL ? calrep_string_ptr(report) : calrep_error_message(error);
    snprintf(seen->report_head, sizeof seen->report_head, "%s", text);
    atomic_store(&seen->status, status);
    atomic_store(&seen->done, 1);
}

static void wait_done(struct seen *seen) {
    for (int i = 0; i < 6000 && !atomic_load(&seen->done); i++) {
        thrd_sleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
}

/* The host's token supply: tokens from the simulator, or a refusal. */
struct tokens {
    calrep_sim *sim;
    int refuse;
    atomic_int asked;
    atomic_int finalized;
};

static uint32_t on_token(void *user_data, const uint8_t *site, size_t site_len, calrep_token_request *request) {
    struct tokens *tokens = user_data;
    atomic_fetch_add(&tokens->asked, 1);
    if (site_len != 3 || memcmp(site, "sim", 3) != 0) return 1;
    if (tokens->refuse) {
        calrep_token_request_fail(request, TEXT("MSAL: AADSTS50034 the account does not exist"), NULL);
        return 1;
    }
    calrep_string *token = NULL;
    if (calrep_sim_issue_token(tokens->sim, &token, NULL) != CALREP_STATUS_OK) return 1;
    calrep_status s = calrep_token_request_set(request, (const uint8_t *)calrep_string_ptr(token),
                                               calrep_string_len(token), NULL);
    calrep_string_free(token);
    return s;
}

static void on_tokens_finalize(void *user_data) {
    struct tokens *tokens = user_data;
    atomic_fetch_add(&tokens->finalized, 1);
}

/* Writes `text` to dir/name. */
static int write_file(const char *dir, const char *name, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

/* A site whose tokens come from the host: replicated with the host's
 * tokens; a host that refuses fails the mailboxes with its reason. */
static void host_tokens(const char *dir, calrep_runtime *rt, calrep_sim *sim) {
    calrep_error *err = NULL;
    calrep_string *url = NULL;
    CHECK(calrep_sim_url(sim, &url, NULL) == CALREP_STATUS_OK, "url");
    char config[4096];
    snprintf(config, sizeof config,
             "[replica]\npath = \"tokens.db\"\n"
             "[[sites]]\nid = \"sim\"\ndirectory = \"exchange\"\n"
             "[sites.ews]\nurl = \"%s\"\nhost_tokens = true\nusername = \"svc-calrep@demo.example\"\n"
             "[[definitions]]\nid = \"all\"\n"
             "[[schedules]]\nid = \"nightly\"\ntime_zone = \"UTC\"\nwhen.daily.once.start = \"02:00\"\n"
             "[[tasks]]\nid = \"two\"\nsite = \"sim\"\ndefinition = \"all\"\nschedule = \"nightly\"\n"
             "group = { distribution_group = \"all-staff@demo.example\" }\n",
             calrep_string_ptr(url));
    calrep_string_free(url);

    static struct tokens good, refusing = {.refuse = 1}, unused;
    good.sim = sim;
    calrep_engine *engine = NULL;
    CHECK(calrep_engine_new(rt, TEXT(config), CALREP_CONFIG_FORMAT_TOML, TEXT(dir), &engine, &err) ==
              CALREP_STATUS_OK,
          "engine: %s", err ? calrep_error_message(err) : "");
    expect_error(calrep_engine_set_token_callback(engine, NULL, &unused, on_tokens_finalize, &err), &err,
                 CALREP_STATUS_NULL_PARAMETER, "callback", "no token callback");
    CHECK(atomic_load(&unused.finalized) == 1, "unused data finalized at once");
    CHECK(calrep_engine_set_token_callback(engine, on_token, &good, on_tokens_finalize, &err) == CALREP_STATUS_OK,
          "token callback");
    calrep_string *report = NULL;
    CHECK(calrep_engine_run(engine, TEXT("two"), 0, &report, &err) == CALREP_STATUS_OK, "run: %s",
          err ? calrep_error_message(err) : "");
    CHECK(report != NULL && strstr(calrep_string_ptr(report), "\"outcome\": \"healthy\"") != NULL &&
              strstr(calrep_string_ptr(report), "not signed in") == NULL,
          "host-token report %.600s", calrep_string_ptr(report));
    calrep_string_free(report);
    CHECK(atomic_load(&good.asked) > 4, "asked %d times", atomic_load(&good.asked));
    /* Too late: the sources are built. */
    expect_error(calrep_engine_set_token_callback(engine, on_token, &unused, on_tokens_finalize, &err), &err,
                 CALREP_STATUS_INVALID_ARGUMENT, "before the engine's first run", "token callback after a run");
    CHECK(atomic_load(&unused.finalized) == 2, "refused data finalized at once");
    calrep_engine_free(engine);
    CHECK(atomic_load(&good.finalized) == 1, "token finalizer ran %d times", atomic_load(&good.finalized));

    engine = NULL;
    CHECK(calrep_engine_new(rt, TEXT(config), CALREP_CONFIG_FORMAT_TOML, TEXT(dir), &engine, &err) ==
              CALREP_STATUS_OK,
          "engine");
    CHECK(calrep_engine_set_token_callback(engine, on_token, &refusing, on_tokens_finalize, NULL) ==
              CALREP_STATUS_OK,
          "refusing callback");
    CHECK(calrep_engine_run(engine, TEXT("two"), 0, &report, &err) == CALREP_STATUS_OK, "run");
    CHECK(report != NULL && strstr(calrep_string_ptr(report), "AADSTS50034 the account does not exist") != NULL,
          "refusal in the report %.600s", calrep_string_ptr(report));
    calrep_string_free(report);
    calrep_engine_free(engine);
    CHECK(atomic_load(&refusing.finalized) == 1, "refusing finalizer");
}

/* A Microsoft 365 site read through Microsoft Graph with the host's tokens
 * (as a .NET host with MSAL would run it): replicated and verified equal. */
static void graph_site(const char *dir, calrep_runtime *rt, calrep_sim *sim) {
    calrep_error *err = NULL;
    calrep_string *url = NULL, *authority = NULL;
    CHECK(calrep_sim_graph_url(sim, &url, NULL) == CALREP_STATUS_OK, "graph url");
    CHECK(calrep_sim_authority(sim, &authority, NULL) == CALREP_STATUS_OK, "authority");
    CHECK(strstr(calrep_string_ptr(url), "/v1.0") != NULL, "graph url %s", calrep_string_ptr(url));
    char config[4096];
    snprintf(config, sizeof config,
             "[replica]\npath = \"graph.db\"\n"
             "[[sites]]\nid = \"sim\"\ndirectory = \"graph\"\n"
             "[sites.graph]\ntenant = \"demo.onmicrosoft.com\"\nhost_tokens = true\n"
             "url = \"%s\"\nauthority = \"%s\"\n"
             "[[definitions]]\nid = \"all\"\ninclude = \"all\"\n"
             "[[schedules]]\nid = \"nightly\"\ntime_zone = \"UTC\"\nwhen.daily.once.start = \"02:00\"\n"
             "[[tasks]]\nid = \"m365\"\nsite = \"sim\"\ndefinition = \"all\"\nschedule = \"nightly\"\n"
             "group = { distribution_group = \"all-staff@demo.example\" }\n",
             calrep_string_ptr(url), calrep_string_ptr(authority));
    calrep_string_free(url);
    calrep_string_free(authority);

    static struct tokens graph_tokens;
    graph_tokens.sim = sim;
    calrep_engine *engine = NULL;
    CHECK(calrep_engine_new(rt, TEXT(config), CALREP_CONFIG_FORMAT_TOML, TEXT(dir), &engine, &err) ==
              CALREP_STATUS_OK,
          "graph engine: %s", err ? calrep_error_message(err) : "");
    CHECK(calrep_engine_set_token_callback(engine, on_token, &graph_tokens, on_tokens_finalize, &err) ==
              CALREP_STATUS_OK,
          "graph token callback");
    calrep_string *report = NULL;
    CHECK(calrep_engine_run(engine, TEXT("m365"), 0, &report, &err) == CALREP_STATUS_OK, "graph run: %s",
          err ? calrep_error_message(err) : "");
    const char *json = report ? calrep_string_ptr(report) : "";
    /* transitiveMembers reports disabled and unlicensed accounts: skipped. */
    CHECK(strstr(json, "\"outcome\": \"healthy\"") != NULL && strstr(json, "\"outcome\": \"failed\"") == NULL &&
              strstr(json, "account disabled") != NULL,
          "graph report %.600s", json);
    calrep_string_free(report);
    calrep_string *verify = NULL;
    CHECK(calrep_engine_verify(engine, TEXT("m365"), &verify, &err) == CALREP_STATUS_OK, "graph verify");
    CHECK(verify != NULL && strstr(calrep_string_ptr(verify), "\"result\": \"equal\"") != NULL,
          "graph verify %.300s", verify ? calrep_string_ptr(verify) : "");
    calrep_string_free(verify);
    calrep_engine_free(engine);
    CHECK(atomic_load(&graph_tokens.asked) > 0, "graph tokens asked %d times", atomic_load(&graph_tokens.asked));
}

/* Continuity access: an account issued with a password shown once, listed
 * without it, revoked; bad grants refused with their reason. */
static void access_accounts(calrep_engine *engine) {
    calrep_error *err = NULL;
    calrep_string *password = NULL;
    const char *grants = "{\"mailboxes\": [\"ann@demo.example\"], \"expires\": \"2030-01-01T00:00:00Z\"}";
    CHECK(calrep_engine_access_grant(engine, TEXT("ann"), TEXT(grants), &password, &err) == CALREP_STATUS_OK,
          "grant: %s", err ? calrep_error_message(err) : "");
    CHECK(password != NULL && calrep_string_len(password) == 27, "password length");
    calrep_string *list = NULL;
    CHECK(calrep_engine_access_list(engine, &list, &err) == CALREP_STATUS_OK, "list");
    CHECK(list != NULL && strstr(calrep_string_ptr(list), "\"ann\"") != NULL &&
              strstr(calrep_string_ptr(list), calrep_string_ptr(password)) == NULL &&
              strstr(calrep_string_ptr(list), "argon2") == NULL,
          "list %s", list ? calrep_string_ptr(list) : "");
    calrep_string_free(list);
    calrep_string_free(password);
    expect_error(calrep_engine_access_grant(engine, TEXT("bob"), TEXT("{\"mailboxes\": [\"not an address\"]}"),
                                            &password, &err),
                 &err, CALREP_STATUS_INVALID_ARGUMENT, "not an address", "bad grant address");
    expect_error(calrep_engine_access_grant(engine, TEXT("bob"), TEXT("{}"), &password, &err), &err,
                 CALREP_STATUS_INVALID_ARGUMENT, "would read nothing", "no grant at all");
    CHECK(calrep_engine_access_revoke(engine, TEXT("ann"), &err) == CALREP_STATUS_OK, "revoke");
    expect_error(calrep_engine_access_revoke(engine, TEXT("ann"), &err), &err, CALREP_STATUS_MAILBOX_UNKNOWN,
                 "ann", "revoke twice");
}

static void replicate(const char *dir) {
    calrep_error *err = NULL;
    calrep_runtime *rt = NULL;
    CHECK(calrep_runtime_new(2, &rt, &err) == CALREP_STATUS_OK, "runtime");
    calrep_sim *sim = NULL;
    expect_error(calrep_sim_start(rt, 7, 3, &sim, &err), &err, CALREP_STATUS_INVALID_ARGUMENT,
                 "mailboxes", "too few mailboxes");
    CHECK(calrep_sim_start(rt, 7, 20, &sim, &err) == CALREP_STATUS_OK, "sim: %s",
          err ? calrep_error_message(err) : "");
    calrep_string *url = NULL;
    CHECK(calrep_sim_url(sim, &url, NULL) == CALREP_STATUS_OK, "url");
    CHECK(strncmp(calrep_string_ptr(url), "http://127.0.0.1:", 17) == 0, "url %s", calrep_string_ptr(url));

    CHECK(write_file(dir, "password", "calrep-sim"), "password file");
    char config[4096];
    snprintf(config, sizeof config,
             "[replica]\npath = \"replica.db\"\n"
             "[[sites]]\nid = \"sim\"\ndirectory = \"exchange\"\n"
             "[sites.ews]\nurl = \"%s\"\nusername = \"svc-calrep@demo.example\"\npassword_file = \"password\"\n"
             "[[definitions]]\nid = \"all\"\ninclude = \"all\"\n"
             "[[schedules]]\nid = \"nightly\"\ntime_zone = \"UTC\"\nwhen.daily.once.start = \"02:00\"\n"
             "[[tasks]]\nid = \"everyone\"\nsite = \"sim\"\ndefinition = \"all\"\nschedule = \"nightly\"\n"
             "group = { distribution_group = \"all-staff@demo.example\" }\n",
             calrep_string_ptr(url));
    calrep_string_free(url);

    calrep_engine *engine = NULL;
    expect_error(calrep_engine_new(rt, TEXT("[[tasks]]\nid = 3\n"), CALREP_CONFIG_FORMAT_TOML, TEXT(dir), &engine, &err),
                 &err, CALREP_STATUS_CONFIG_INVALID, "tasks[0]", "invalid configuration");
    expect_error(calrep_engine_new(rt, TEXT(config), 7, TEXT(dir), &engine, &err), &err,
                 CALREP_STATUS_INVALID_ARGUMENT, "format 7", "unknown format");
    CHECK(engine == NULL, "output written on failure");
    CHECK(calrep_engine_new(rt, TEXT(config), CALREP_CONFIG_FORMAT_TOML, TEXT(dir), &engine, &err) ==
              CALREP_STATUS_OK,
          "engine: %s", err ? calrep_error_message(err) : "");

    static struct seen seen;
    CHECK(calrep_engine_set_event_callback(engine, on_event, &seen, on_finalize, &err) == CALREP_STATUS_OK,
          "event callback");
    calrep_string *report = NULL;
    expect_error(calrep_engine_run(engine, TEXT("nobody"), 0, &report, &err), &err, CALREP_STATUS_TASK_UNKNOWN,
                 "nobody", "unknown task");
    CHECK(calrep_engine_run(engine, TEXT("everyone"), 0, &report, &err) == CALREP_STATUS_OK, "run: %s",
          err ? calrep_error_message(err) : "");
    const char *json = calrep_string_ptr(report);
    CHECK(strstr(json, "\"status\": \"Enabled With Warning\"") != NULL, "report %.300s", json);
    /* The first replicated mailbox's address, from the report. */
    char mailbox[256] = "";
    const char *healthy = strstr(json, "\"outcome\": \"healthy\"");
    const char *p = json, *last = NULL;
    while (healthy != NULL && (p = strstr(p, "\"address\": \"")) != NULL && p < healthy) last = p++;
    if (last != NULL) sscanf(last + strlen("\"address\": \""), "%255[^\"]", mailbox);
    CHECK(strstr(mailbox, "@demo.example") != NULL, "mailbox \"%s\"", mailbox);
    calrep_string_free(report);

    /* Progress: the callback saw the run, and the queue holds it in order. */
    CHECK(atomic_load(&seen.events) > 20, "%d events by callback", atomic_load(&seen.events));
    calrep_string *event = NULL;
    CHECK(calrep_engine_next_event(engine, 100, &event, &err) == CALREP_STATUS_OK, "first event");
    CHECK(event != NULL && strstr(calrep_string_ptr(event), "{\"event\":\"run_started\"") == calrep_string_ptr(event),
          "first event %s", calrep_string_ptr(event));
    calrep_string_free(event);
    int queued = 1;
    while (calrep_engine_next_event(engine, 0, &event, NULL) == CALREP_STATUS_OK) {
        queued++;
        calrep_string_free(event);
    }
    CHECK(queued == atomic_load(&seen.events), "queue %d, callback %d", queued, atomic_load(&seen.events));
    expect_error(calrep_engine_next_event(engine, 20, &event, &err), &err, CALREP_STATUS_TIMEOUT, "20 ms",
                 "an empty queue times out");

    /* A run started without blocking, then one cancelled at once. */
    static struct seen async_run, cancelled;
    calrep_run *run = NULL;
    expect_error(calrep_engine_run_start(engine, TEXT("everyone"), 0, NULL, NULL, NULL, &run, &err), &err,
                 CALREP_STATUS_NULL_PARAMETER, "callback", "no completion callback");
    CHECK(calrep_engine_run_start(engine, TEXT("everyone"), CALREP_RUN_DRY_RUN, on_done, &async_run, on_finalize,
                                  &run, &err) == CALREP_STATUS_OK,
          "run_start");
    calrep_run_free(run);
    wait_done(&async_run);
    CHECK(atomic_load(&async_run.status) == CALREP_STATUS_OK && strstr(async_run.report_head, "\"dry_run\": true"),
          "async plan: %.200s", async_run.report_head);
    /* A slow server, so that the run cannot end before it is cancelled. */
    CHECK(calrep_sim_set_latency(sim, 300, NULL) == CALREP_STATUS_OK, "latency");
    CHECK(calrep_engine_run_start(engine, TEXT("everyone"), 0, on_done, &cancelled, on_finalize, &run, &err) ==
              CALREP_STATUS_OK,
          "run_start to cancel");
    CHECK(calrep_run_cancel(run, &err) == CALREP_STATUS_OK, "cancel");
    CHECK(calrep_run_cancel(run, NULL) == CALREP_STATUS_OK, "cancel twice");
    calrep_run_free(run);
    wait_done(&cancelled);
    CHECK(strstr(cancelled.report_head, "stopped (shutdown or cancel)") != NULL, "cancelled: %.300s",
          cancelled.report_head);
    CHECK(calrep_sim_set_latency(sim, 0, NULL) == CALREP_STATUS_OK, "no latency");
    CHECK(calrep_run_cancel(NULL, NULL) == CALREP_STATUS_NULL_PARAMETER, "cancel NULL");

    CHECK(calrep_engine_plan(engine, TEXT("everyone"), &report, &err) == CALREP_STATUS_OK, "plan");
    CHECK(report != NULL && strstr(calrep_string_ptr(report), "\"dry_run\": true") != NULL, "plan %.200s",
          calrep_string_ptr(report));
    calrep_string_free(report);

    calrep_string *verify = NULL;
    CHECK(calrep_engine_verify(engine, TEXT("everyone"), &verify, &err) == CALREP_STATUS_OK, "verify");
    CHECK(verify != NULL && strstr(calrep_string_ptr(verify), "\"differences\": []") != NULL, "verify %.300s",
          calrep_string_ptr(verify));
    calrep_string_free(verify);
    access_accounts(engine);

    calrep_string *occurrences = NULL;
    CHECK(calrep_engine_occurrences(engine, TEXT(mailbox), TEXT("2026-11-01T00:00:00Z"),
                                    TEXT("2026-12-01T00:00:00Z"), &occurrences, &err) == CALREP_STATUS_OK,
          "occurrences: %s", err ? calrep_error_message(err) : "");
    CHECK(occurrences != NULL && strstr(calrep_string_ptr(occurrences), "\"subject\"") != NULL,
          "occurrences %.200s", calrep_string_ptr(occurrences));
    calrep_string_free(occurrences);
    expect_error(calrep_engine_occurrences(engine, TEXT("nobody@demo.example"), TEXT("2026-11-01T00:00:00Z"),
                                           TEXT("2026-12-01T00:00:00Z"), &occurrences, &err),
                 &err, CALREP_STATUS_MAILBOX_UNKNOWN, "nobody@demo.example", "unknown mailbox");

    /* The replica as iCalendar, and a diff of two calendars. */
    calrep_string *ical = NULL;
    CHECK(calrep_engine_export(engine, TEXT(mailbox), NULL, 0, 0, &ical, &err) == CALREP_STATUS_OK, "export");
    CHECK(ical != NULL && strncmp(calrep_string_ptr(ical), "BEGIN:VCALENDAR\r\n", 17) == 0 &&
              strstr(calrep_string_ptr(ical), "RRULE:") != NULL,
          "export %.100s", calrep_string_ptr(ical));
    calrep_string_free(ical);
    expect_error(calrep_engine_export(engine, TEXT(mailbox), TEXT("No Such Calendar"), 0, &ical, &err), &err,
                 CALREP_STATUS_MAILBOX_UNKNOWN, "No Such Calendar", "unknown calendar");

    const char *before =
        "[{\"id\":\"1\",\"uid\":\"u1\",\"subject\":\"Standup\",\"time\":{\"timed\":{\"start\":\"2026-06-01T09:00:00Z\",\"end\":\"2026-06-01T09:15:00Z\"}},"
        "\"zone\":{\"source_id\":\"UTC\",\"iana\":\"UTC\"}}]";
    const char *after =
        "[{\"id\":\"1\",\"uid\":\"u1\",\"subject\":\"Stand-up\",\"time\":{\"timed\":{\"start\":\"2026-06-01T10:00:00Z\",\"end\":\"2026-06-01T10:15:00Z\"}},"
        "\"zone\":{\"source_id\":\"UTC\",\"iana\":\"UTC\"}}]";
    calrep_string *diff = NULL;
    calrep_status ds = calrep_diff(TEXT(before), TEXT(after), TEXT("2026-01-01T00:00:00Z"), TEXT("2027-01-01T00:00:00Z"),
                                   CALREP_CALENDAR_FORMAT_JSON, &diff, &err);
    CHECK(ds == CALREP_STATUS_OK, "diff: %s", err ? calrep_error_message(err) : "");
    CHECK(diff != NULL && strstr(calrep_string_ptr(diff), "subject") != NULL, "diff %s", calrep_string_ptr(diff));
    calrep_string_free(diff);
    expect_error(calrep_diff(TEXT("[{]"), TEXT(after), TEXT("2026-01-01T00:00:00Z"), TEXT("2027-01-01T00:00:00Z"),
                             CALREP_CALENDAR_FORMAT_JSON, &diff, &err),
                 &err, CALREP_STATUS_INVALID_ARGUMENT, "before is not a JSON array", "malformed diff input");
    expect_error(calrep_diff(TEXT(before), TEXT(after), TEXT("2026-01-01T00:00:00Z"), TEXT("2027-01-01T00:00:00Z"), 9,
                             &diff, &err),
                 &err, CALREP_STATUS_INVALID_ARGUMENT, "format 9", "unknown diff format");
    /* iCalendar in: the same weekly series with one occurrence excluded. */
    const char *ics_before = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:w\r\nDTSTART:20260302T090000Z\r\n"
                             "DURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    const char *ics_after = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:w\r\nDTSTART:20260302T090000Z\r\n"
                            "DURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nEXDATE:20260309T090000Z\r\n"
                            "END:VEVENT\r\nEND:VCALENDAR\r\n";
    CHECK(calrep_diff(TEXT(ics_before), TEXT(ics_after), TEXT("2026-01-01T00:00:00Z"), TEXT("2027-01-01T00:00:00Z"),
                      CALREP_CALENDAR_FORMAT_ICALENDAR, &diff, &err) == CALREP_STATUS_OK,
          "ics diff: %s", err ? calrep_error_message(err) : "");
    CHECK(diff != NULL && strstr(calrep_string_ptr(diff), "{\"change\":\"removed\",\"uid\":\"w\",\"original_start\":"
                                                          "\"2026-03-09T09:00:00Z\"") != NULL,
          "ics diff %s", calrep_string_ptr(diff));
    calrep_string_free(diff);
    expect_error(calrep_diff(TEXT("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n"), TEXT(ics_after),
                             TEXT("2026-01-01T00:00:00Z"), TEXT("2027-01-01T00:00:00Z"),
                             CALREP_CALENDAR_FORMAT_ICALENDAR, &diff, &err),
                 &err, CALREP_STATUS_INVALID_ARGUMENT, "before: iCalendar line", "unreadable iCalendar");

    calrep_engine_free(engine);
    calrep_engine_free(engine);
    host_tokens(dir, rt, sim);
    graph_site(dir, rt, sim);
    calrep_sim_free(sim);
    calrep_runtime_free(rt);
    /* Every finalizer ran exactly once. */
    CHECK(atomic_load(&seen.finalized) == 1, "event finalizer ran %d times", atomic_load(&seen.finalized));
    CHECK(atomic_load(&async_run.finalized) == 1 && atomic_load(&cancelled.finalized) == 1,
          "run finalizers ran %d and %d times", atomic_load(&async_run.finalized), atomic_load(&cancelled.finalized));
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    version();
    nulls_and_frees();
    stale_handles();
    expand();
    replicate(argv[1]);
    if (failures != 0) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("all C ABI checks passed\n");
    return 0;
}
