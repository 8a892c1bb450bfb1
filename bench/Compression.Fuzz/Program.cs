using System.Diagnostics;
using Compression.Core.Tests.Fuzz;

// The long mutation fuzz (see bench/README.md): counts per outcome, and every case that ended in an uncoded exception or in
// OCB0009 (the compressor failing on a model its checks at load passed).
int cases = 100_000;
int start = 0;
string? testData = null;
bool trace = false;
bool validate = false;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--cases": cases = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
        case "--start": start = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
        case "--onnx-test-data": testData = args[++i]; break;
        case "--trace": trace = true; break;
        case "--validate": validate = true; break;
        default:
            Console.Error.WriteLine("usage: Compression.Fuzz [--cases N (100000)] [--start K (0)] [--onnx-test-data DIR (/usr/share/libonnx-testdata/data)] [--trace] [--validate]");
            return 2;
    }
}

string root = FindRoot();
testData ??= Path.Combine("/usr/share/libonnx-testdata", "data");
var seeds = new List<(string Name, byte[] Bytes)>();
foreach (string seed in FuzzSeeds.Paths(root, testData))
{
    if (File.Exists(seed))
    {
        string name = seed.StartsWith(root, StringComparison.Ordinal) ? Path.GetRelativePath(root, seed) : Path.GetRelativePath(testData, seed);
        seeds.Add((name, File.ReadAllBytes(seed)));
    }
}

if (seeds.Count == 0)
{
    Console.Error.WriteLine("No seed model found: run from the repository, and install libonnx-testdata or pass --onnx-test-data.");
    return 1;
}

string folder = Path.Combine(Path.GetTempPath(), "compression-fuzz-" + Environment.ProcessId);
Directory.CreateDirectory(folder);
var fuzzer = new ModelFuzzer(seeds, folder) { Validate = validate, Starting = trace ? (n, what) => Console.Error.WriteLine($"case {n}: {what}") : null };
var clock = Stopwatch.StartNew();
Console.WriteLine($"{seeds.Count} seeds: {string.Join(", ", seeds.Select(s => s.Name))}");
try
{
    for (int done = 0; done < cases; done++)
    {
        int faults = fuzzer.Uncoded.Count;
        string outcome = fuzzer.RunCase(start + done);
        if (trace)
        {
            Console.Error.WriteLine($"  -> {outcome}");
        }

        if (fuzzer.Uncoded.Count > faults)
        {
            Console.WriteLine(fuzzer.Uncoded[^1]);
        }

        if ((done + 1) % 1000 == 0)
        {
            Console.WriteLine($"{done + 1} cases, {clock.Elapsed.TotalSeconds:F0} s: {Format(fuzzer.Counts)}");
        }
    }
}
finally
{
    Directory.Delete(folder, recursive: true);
}

Console.WriteLine($"cases {start} to {start + cases - 1}, {clock.Elapsed.TotalSeconds:F0} s: {Format(fuzzer.Counts)}");
return fuzzer.Uncoded.Count == 0 ? 0 : 1;

static string Format(SortedDictionary<string, int> counts) => string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}"));

static string FindRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Compression.Build.sln")))
        {
            return dir.FullName;
        }
    }

    return Directory.GetCurrentDirectory();
}
