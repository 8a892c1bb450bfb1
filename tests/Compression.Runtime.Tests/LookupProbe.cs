namespace Compression.Runtime.Tests;

/// <summary>
/// The entry point of this test assembly, used only by <see cref="LibraryLookupTests"/>: they copy this assembly and
/// Compression.Runtime.dll into a folder of their choosing and run <c>dotnet exec … lookup-probe</c>, so that the
/// process-wide, load-once lookup of <see cref="OnnxRuntimeLibrary"/> starts fresh with the environment under test.
/// It touches nothing but Compression.Runtime and the BCL, so no other assembly needs to be beside it.
/// </summary>
internal static class LookupProbe
{
    public const string Command = "lookup-probe";

    /// <summary>
    /// <c>lookup-probe [--use-library PATH] [--model PATH]</c>. Prints KEY=value lines: TRYLOAD, LOADED, then
    /// VERSION, PATH and SESSION (the model's first input) on success, or EXCEPTION, MESSAGE and one ATTEMPT per
    /// place tried. Exit code 0 when loaded, 3 when the library was not found, 4 on any other error.
    /// </summary>
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] != Command)
        {
            return 0;
        }

        string? model = null;
        for (int i = 1; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--use-library":
                    OnnxRuntimeLibrary.UseLibrary(args[i + 1]);
                    break;
                case "--model":
                    model = args[i + 1];
                    break;
                default:
                    Console.WriteLine($"EXCEPTION=unknown option {args[i]}");
                    return 4;
            }
        }

        bool ok = OnnxRuntimeLibrary.TryLoad(out string? error);
        Console.WriteLine($"TRYLOAD={(ok ? "ok" : OneLine(error))}");
        Console.WriteLine($"LOADED={OnnxRuntimeLibrary.IsLoaded}");
        try
        {
            Console.WriteLine($"VERSION={OnnxRuntimeLibrary.Version}");
            Console.WriteLine($"PATH={OnnxRuntimeLibrary.LoadedPath}");
            if (model is not null)
            {
                using var session = new OnnxSession(model);
                Console.WriteLine($"SESSION={session.Inputs[0]}");
            }

            return 0;
        }
        catch (OnnxRuntimeNotFoundException e)
        {
            Console.WriteLine($"EXCEPTION={e.GetType().Name}");
            Console.WriteLine($"MESSAGE={OneLine(e.Message)}");
            foreach (string attempt in e.Attempts)
            {
                Console.WriteLine($"ATTEMPT={OneLine(attempt)}");
            }

            return 3;
        }
        catch (Exception e)
        {
            Console.WriteLine($"EXCEPTION={e.GetType().Name}");
            Console.WriteLine($"MESSAGE={OneLine(e.Message)}");
            return 4;
        }
    }

    private static string OneLine(string? text) => (text ?? "").ReplaceLineEndings(" ");
}
