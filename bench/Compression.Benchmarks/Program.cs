// The quantization benchmark. From the repository root:
//   dotnet run -c Release --project bench/Compression.Benchmarks -- [--iterations N] [--warmup N] [--threads N] [--models a,b] [--large]
// and the pruning, low-rank, clustering and distillation benchmark (bench/README.md):
//   dotnet run -c Release --project bench/Compression.Benchmarks -- --sparsity [--large]
// and the budget search (Compress=auto) against the best uniform setting:
//   dotnet run -c Release --project bench/Compression.Benchmarks -- --search [--models a,b]
using Compression.Benchmarks;

return BenchmarkCommand.Run(args);
