namespace Aio.TestHelper;

/// <summary>
/// What a scenario saw, one line each: "OK: " for a check that held, "FAIL: " for one that did not, "SAW: " for
/// facts worth reading when a check fails (they decide nothing). The exit code is 0 only if at least one check
/// held and none failed, so a scenario that returns early without checking anything fails.
/// </summary>
internal static class Report
{
    private static readonly object s_lock = new();
    private static int s_oks;
    private static int s_failures;

    public static int ExitCode
    {
        get
        {
            lock (s_lock)
            {
                return s_failures == 0 && s_oks > 0 ? 0 : 1;
            }
        }
    }

    public static void Ok(string message) => Write("OK: ", message, ref s_oks);

    public static void Fail(string message) => Write("FAIL: ", message, ref s_failures);

    public static void Saw(string message)
    {
        lock (s_lock)
        {
            Console.WriteLine("SAW: " + message);
        }
    }

    /// <summary>Prints "OK: <paramref name="what"/>" or "FAIL: <paramref name="what"/>: <paramref name="detail"/>".</summary>
    public static bool Check(bool condition, string what, string detail)
    {
        if (condition)
        {
            Ok(what);
        }
        else
        {
            Fail(what + ": " + detail);
        }

        return condition;
    }

    private static void Write(string prefix, string message, ref int counter)
    {
        lock (s_lock)
        {
            counter++;

            // One line per result: a multi-line exception text stays attributable to its check.
            Console.WriteLine(prefix + message.ReplaceLineEndings(" | "));
        }
    }
}
