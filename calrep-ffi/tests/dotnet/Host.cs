// A .NET host of calrep: starts the EWS simulator, replicates its
// organisation through the engine over HTTP, prints the report, reads one
// mailbox's occurrences back from the replica, and checks the errors it
// promises. Exits 0 only if everything held.
using System;
using System.IO;
using Calrep;

public static class Host
{
    private static int failures;

    private static void Check(bool ok, string what)
    {
        if (!ok) { Console.Error.WriteLine("check failed: " + what); failures++; }
    }

    public static int Main(string[] args)
    {
        if (args.Length != 1) { Console.Error.WriteLine("usage: Host.exe SCRATCH_DIR"); return 2; }
        string dir = args[0];
        Console.WriteLine("calrep " + Runtime.Version);
        using (var runtime = new Runtime(2))
        using (var sim = new Simulator(runtime, 7, 20))
        {
            File.WriteAllText(Path.Combine(dir, "password"), "calrep-sim");
            string config = string.Join("\n", new[] {
                "[replica]", "path = \"replica.db\"",
                "[[sites]]", "id = \"sim\"", "directory = \"exchange\"",
                "[sites.ews]", "url = \"" + sim.Url + "\"", "username = \"svc-calrep@demo.example\"", "password_file = \"password\"",
                "[[definitions]]", "id = \"all\"", "include = \"all\"",
                "[[schedules]]", "id = \"nightly\"", "time_zone = \"UTC\"", "when.daily.once.start = \"02:00\"",
                "[[tasks]]", "id = \"everyone\"", "site = \"sim\"", "definition = \"all\"", "schedule = \"nightly\"",
                "group = { distribution_group = \"all-staff@demo.example\" }", "" });
            using (var engine = new Engine(runtime, config, dir))
            {
                int events = 0, finished = 0;
                engine.OnEvent(json =>
                {
                    System.Threading.Interlocked.Increment(ref events);
                    if (json.Contains("\"mailbox_finished\""))
                    {
                        int n = System.Threading.Interlocked.Increment(ref finished);
                        if (n % 5 == 0) Console.WriteLine("progress: " + n + " mailboxes done");
                        // A handler that throws must not take the library down.
                        if (n == 3) throw new InvalidOperationException("thrown on purpose by the host");
                    }
                });
                string report = engine.Run("everyone");
                Console.WriteLine(report);
                Check(report.Contains("\"status\": \"Enabled With Warning\""), "the run replicated every mailbox");
                Check(events > 20 && finished == 20, "progress streamed: " + events + " events, " + finished + " mailboxes");
                Check(engine.HandlerError is InvalidOperationException, "the handler's exception was caught and kept");

                // The first healthy mailbox's address from the report.
                int healthy = report.IndexOf("\"outcome\": \"healthy\"");
                int at = report.LastIndexOf("\"address\": \"", healthy) + "\"address\": \"".Length;
                string mailbox = report.Substring(at, report.IndexOf('"', at) - at);
                string occurrences = engine.Occurrences(mailbox, "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z");
                Console.WriteLine(mailbox + ": " + occurrences.Length + " bytes of occurrences in November 2026");
                Check(occurrences.Contains("\"subject\""), "occurrences read back");

                try { engine.Run("nobody"); Check(false, "an unknown task throws"); }
                catch (CalrepException e) { Check(e.Status == 3001 && e.Message.Contains("nobody"), "unknown task: " + e.Message); }
            }
            // Tokens from the host's own identity library (here: the simulator's),
            // and a token supply that throws.
            string tokenConfig = config.Replace("replica.db", "tokens.db")
                .Replace("password_file = \"password\"", "host_tokens = true");
            using (var engine = new Engine(runtime, tokenConfig, dir))
            {
                int asked = 0;
                engine.UseTokens(site => { System.Threading.Interlocked.Increment(ref asked); return sim.IssueToken(); });
                string report = engine.Run("everyone");
                Check(report.Contains("\"outcome\": \"healthy\"") && !report.Contains("not signed in"), "host tokens: " + report);
                Check(asked > 20, "the host was asked for tokens " + asked + " times");
            }
            using (var engine = new Engine(runtime, tokenConfig.Replace("tokens.db", "refused.db"), dir))
            {
                engine.UseTokens(site => { throw new UnauthorizedAccessException("MSAL: no account for " + site); });
                string report = engine.Run("everyone");
                Check(report.Contains("UnauthorizedAccessException: MSAL: no account for sim"), "a throwing token supply: " + report);
            }
            try { new Engine(runtime, "[[tasks]]\nid = 3\n", dir).Dispose(); Check(false, "a bad configuration throws"); }
            catch (CalrepException e) { Check(e.Status == 2001, "bad configuration: " + e.Message); }
        }

        string expanded = Recurrence.Expand("FREQ=WEEKLY;BYDAY=MO;COUNT=2", "2026-03-23T09:00:00", "W. Europe Standard Time",
                                            "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");
        Check(expanded == "[\"2026-03-23T08:00:00Z\",\"2026-03-30T07:00:00Z\"]", "expand across DST: " + expanded);
        try { Recurrence.Expand("FREQ=SOMETIMES", "2026-03-23", null, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"); Check(false, "a bad rule throws"); }
        catch (CalrepException e) { Check(e.Status == 5001, "bad rule: " + e.Message); }

        if (failures > 0) { Console.Error.WriteLine(failures + " check(s) failed"); return 1; }
        Console.WriteLine("all .NET host checks passed");
        return 0;
    }
}
