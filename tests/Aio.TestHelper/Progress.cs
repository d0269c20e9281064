namespace Aio.TestHelper;

/// <summary>What the scenario is doing now, for the watchdog's FAIL line when it hangs.</summary>
internal static class Progress
{
    private static Func<string> s_describe = () => "starting";

    public static string Current => s_describe();

    public static void Set(string step) => s_describe = () => step;

    public static void Set(Func<string> describe) => s_describe = describe;
}
