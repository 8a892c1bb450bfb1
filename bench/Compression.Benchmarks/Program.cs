// The compression benchmark. From the repository root:
//   dotnet run -c Release --project bench/Compression.Benchmarks -- [--iterations N] [--warmup N] [--compress-runs N] [--model PATH] [--no-digits]
using Compression.Benchmarks;

return BenchmarkCommand.Run(args);
