// calrep's C ABI for .NET: DllImport, one SafeHandle per handle type, UTF-8
// marshalling by hand (pointer + length in, library-owned strings out), and
// statuses turned into exceptions. Written in the C# 7.2 subset that Mono's
// mcs and .NET 8 both compile.
using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Calrep
{
    /// <summary>A failed call: the library's status number and message.</summary>
    public sealed class CalrepException : Exception
    {
        public uint Status { get; private set; }
        public CalrepException(uint status, string message) : base(message) { Status = status; }
    }

    internal static class Native
    {
        private const string Lib = "calrep";

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern IntPtr calrep_version();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern uint calrep_error_status(IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern IntPtr calrep_error_message(IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern void calrep_error_free(IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern IntPtr calrep_string_ptr(IntPtr s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern UIntPtr calrep_string_len(IntPtr s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern void calrep_string_free(IntPtr s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern uint calrep_runtime_new(uint workers, out RuntimeHandle runtime, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern void calrep_runtime_free(IntPtr runtime);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern uint calrep_sim_start(RuntimeHandle runtime, ulong seed, uint mailboxes, out SimHandle sim, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern uint calrep_sim_url(SimHandle sim, out IntPtr url, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern uint calrep_sim_issue_token(SimHandle sim, out IntPtr token, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern void calrep_sim_free(IntPtr sim);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] internal delegate uint TokenCallback(IntPtr userData, IntPtr site, UIntPtr siteLen, IntPtr request);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern uint calrep_engine_set_token_callback(EngineHandle engine, TokenCallback callback, IntPtr userData, IntPtr finalizer, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern uint calrep_token_request_set(IntPtr request, byte[] token, UIntPtr tokenLen, IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern uint calrep_token_request_fail(IntPtr request, byte[] reason, UIntPtr reasonLen, IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern uint calrep_engine_new(RuntimeHandle runtime, byte[] config, UIntPtr configLen, uint format, byte[] baseDir, UIntPtr baseDirLen, out EngineHandle engine, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern void calrep_engine_free(IntPtr engine);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern uint calrep_engine_run(EngineHandle engine, byte[] task, UIntPtr taskLen, uint flags, out IntPtr report, out IntPtr error);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] internal delegate void EventCallback(IntPtr userData, IntPtr json, UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern uint calrep_engine_set_event_callback(EngineHandle engine, EventCallback callback, IntPtr userData, IntPtr finalizer, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern uint calrep_engine_occurrences(EngineHandle engine, byte[] mailbox, UIntPtr mailboxLen, byte[] from, UIntPtr fromLen, byte[] to, UIntPtr toLen, out IntPtr json, out IntPtr error);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern uint calrep_expand(byte[] rrule, UIntPtr rruleLen, byte[] dtstart, UIntPtr dtstartLen, byte[] tz, UIntPtr tzLen, byte[] exdates, UIntPtr exdatesLen, byte[] from, UIntPtr fromLen, byte[] to, UIntPtr toLen, out IntPtr json, out IntPtr error);

        /// <summary>A library-owned string, copied and freed.</summary>
        internal static string Take(IntPtr s)
        {
            if (s == IntPtr.Zero) return null;
            try
            {
                int len = checked((int)calrep_string_len(s).ToUInt64());
                var bytes = new byte[len];
                Marshal.Copy(calrep_string_ptr(s), bytes, 0, len);
                return Encoding.UTF8.GetString(bytes);
            }
            finally { calrep_string_free(s); }
        }

        /// <summary>Throws for a failed status, freeing the error object.</summary>
        internal static void Check(uint status, IntPtr error)
        {
            if (status == 0) return;
            string message = "calrep status " + status;
            if (error != IntPtr.Zero)
            {
                message = Marshal.PtrToStringUTF8(calrep_error_message(error));
                calrep_error_free(error);
            }
            throw new CalrepException(status, message);
        }

        internal static byte[] Utf8(string s) { return s == null ? null : Encoding.UTF8.GetBytes(s); }
        internal static UIntPtr Len(byte[] b) { return new UIntPtr(b == null ? 0u : (uint)b.Length); }
    }

    public sealed class RuntimeHandle : SafeHandle
    {
        public RuntimeHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle() { Native.calrep_runtime_free(handle); return true; }
    }

    public sealed class SimHandle : SafeHandle
    {
        public SimHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle() { Native.calrep_sim_free(handle); return true; }
    }

    public sealed class EngineHandle : SafeHandle
    {
        public EngineHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle() { Native.calrep_engine_free(handle); return true; }
    }

    /// <summary>The runtime calrep's work runs on.</summary>
    public sealed class Runtime : IDisposable
    {
        internal readonly RuntimeHandle Handle;
        public Runtime(uint workers)
        {
            IntPtr error;
            Native.Check(Native.calrep_runtime_new(workers, out Handle, out error), error);
        }
        public void Dispose() { Handle.Dispose(); }
        public static string Version { get { return Marshal.PtrToStringUTF8(Native.calrep_version()); } }
    }

    /// <summary>The EWS simulator serving a demo organisation.</summary>
    public sealed class Simulator : IDisposable
    {
        private readonly SimHandle handle;
        public Simulator(Runtime runtime, ulong seed, uint mailboxes)
        {
            IntPtr error;
            Native.Check(Native.calrep_sim_start(runtime.Handle, seed, mailboxes, out handle, out error), error);
        }
        public string Url
        {
            get
            {
                IntPtr url, error;
                Native.Check(Native.calrep_sim_url(handle, out url, out error), error);
                return Native.Take(url);
            }
        }
        /// <summary>An access token the simulator accepts, for tests of a host's own token supply.</summary>
        public string IssueToken()
        {
            IntPtr token, error;
            Native.Check(Native.calrep_sim_issue_token(handle, out token, out error), error);
            return Native.Take(token);
        }
        public void Dispose() { handle.Dispose(); }
    }

    /// <summary>An engine over a configuration and its replica.</summary>
    public sealed class Engine : IDisposable
    {
        private readonly EngineHandle handle;
        public Engine(Runtime runtime, string tomlConfig, string baseDir)
        {
            byte[] config = Native.Utf8(tomlConfig), dir = Native.Utf8(baseDir);
            IntPtr error;
            Native.Check(Native.calrep_engine_new(runtime.Handle, config, Native.Len(config), 0, dir, Native.Len(dir), out handle, out error), error);
        }

        // Kept alive as long as the engine: the library calls it from its threads.
        private Native.EventCallback onEvent;

        /// <summary>Calls <paramref name="handler"/> with each progress event (JSON),
        /// on a library thread. Exceptions are caught here, never thrown through
        /// the library's frames; the first one is kept in <see cref="HandlerError"/>.</summary>
        public void OnEvent(Action<string> handler)
        {
            onEvent = (userData, json, len) =>
            {
                try
                {
                    var bytes = new byte[checked((int)len.ToUInt64())];
                    Marshal.Copy(json, bytes, 0, bytes.Length);
                    handler(Encoding.UTF8.GetString(bytes));
                }
                catch (Exception e)
                {
                    if (HandlerError == null) HandlerError = e;
                }
            };
            IntPtr error;
            Native.Check(Native.calrep_engine_set_event_callback(handle, onEvent, IntPtr.Zero, IntPtr.Zero, out error), error);
        }

        // Kept alive as long as the engine, like onEvent.
        private Native.TokenCallback onToken;

        /// <summary>Supplies the access tokens of sites configured with
        /// <c>host_tokens = true</c> (from MSAL, say), before the first run. An
        /// exception from <paramref name="tokenForSite"/> fails the request with
        /// its message; it never crosses the library's frames.</summary>
        public void UseTokens(Func<string, string> tokenForSite)
        {
            onToken = (userData, site, siteLen, request) =>
            {
                byte[] answer;
                try
                {
                    var bytes = new byte[checked((int)siteLen.ToUInt64())];
                    Marshal.Copy(site, bytes, 0, bytes.Length);
                    answer = Native.Utf8(tokenForSite(Encoding.UTF8.GetString(bytes)));
                    return Native.calrep_token_request_set(request, answer, Native.Len(answer), IntPtr.Zero);
                }
                catch (Exception e)
                {
                    answer = Native.Utf8(e.GetType().Name + ": " + e.Message);
                    Native.calrep_token_request_fail(request, answer, Native.Len(answer), IntPtr.Zero);
                    return 1;
                }
            };
            IntPtr error;
            Native.Check(Native.calrep_engine_set_token_callback(handle, onToken, IntPtr.Zero, IntPtr.Zero, out error), error);
        }

        /// <summary>The first exception an event handler threw, if any.</summary>
        public Exception HandlerError { get; private set; }

        /// <summary>Runs a task and returns its report (JSON).</summary>
        public string Run(string task)
        {
            byte[] t = Native.Utf8(task);
            IntPtr report, error;
            Native.Check(Native.calrep_engine_run(handle, t, Native.Len(t), 0, out report, out error), error);
            return Native.Take(report);
        }

        /// <summary>A mailbox's occurrences in [from, to) from the replica (JSON).</summary>
        public string Occurrences(string mailbox, string from, string to)
        {
            byte[] m = Native.Utf8(mailbox), f = Native.Utf8(from), t = Native.Utf8(to);
            IntPtr json, error;
            Native.Check(Native.calrep_engine_occurrences(handle, m, Native.Len(m), f, Native.Len(f), t, Native.Len(t), out json, out error), error);
            return Native.Take(json);
        }

        public void Dispose() { handle.Dispose(); }
    }

    public static class Recurrence
    {
        /// <summary>Occurrence starts of a rule in [from, to), as a JSON array.</summary>
        public static string Expand(string rrule, string dtstart, string tz, string from, string to)
        {
            byte[] r = Native.Utf8(rrule), d = Native.Utf8(dtstart), z = Native.Utf8(tz), f = Native.Utf8(from), t = Native.Utf8(to);
            IntPtr json, error;
            Native.Check(Native.calrep_expand(r, Native.Len(r), d, Native.Len(d), z, Native.Len(z), null, UIntPtr.Zero, f, Native.Len(f), t, Native.Len(t), out json, out error), error);
            return Native.Take(json);
        }
    }
}
