// The cost of distillation's least squares (see the project file for the command).
using System.Diagnostics;
using System.Globalization;
using Compression.Core.Passes.Distillation;

if (args.Length != 4)
{
    Console.Error.WriteLine("Usage: dotnet run -c Release --project bench/Compression.Distillation.Benchmarks -- K N ROWS FIXED-SHARE");
    return 2;
}

int k = int.Parse(args[0], CultureInfo.InvariantCulture);
int n = int.Parse(args[1], CultureInfo.InvariantCulture);
int rows = int.Parse(args[2], CultureInfo.InvariantCulture);
double fixedShare = double.Parse(args[3], CultureInfo.InvariantCulture);
var random = new Random(1);
float[] Uniform(int count)
{
    var values = new float[count];
    for (int i = 0; i < count; i++)
    {
        values[i] = (float)((random.NextDouble() * 2) - 1);
    }

    return values;
}

float[] x = Uniform(rows * k);
float[] weight = Uniform(k * n);
bool[] free = fixedShare > 0 ? weight.Select(_ => random.NextDouble() >= fixedShare).ToArray() : [];
using var process = Process.GetCurrentProcess();
TimeSpan Cpu()
{
    process.Refresh();
    return process.TotalProcessorTime;
}

T Measure<T>(string what, Func<T> work)
{
    var clock = Stopwatch.StartNew();
    TimeSpan cpu = Cpu();
    T result = work();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: {clock.Elapsed.TotalSeconds:F2} s wall, {(Cpu() - cpu).TotalSeconds:F2} s CPU"));
    return result;
}

Console.WriteLine($"K={k} N={n} rows={rows} fixed share={fixedShare}, {Environment.ProcessorCount} processors");
LayerStatistics statistics = Measure("statistics (X_s^T X_s, X_s^T X_t)", () => LayerStatistics.FromRows(x, x, rows, k, k));
Measure("refit", () => LeastSquares.Refit(statistics, weight, n, free));
RefitResult refit = Measure("refit again, with a bias", () => LeastSquares.Refit(statistics, weight, n, free, withBias: true));
return refit.Solved ? 0 : 1;
