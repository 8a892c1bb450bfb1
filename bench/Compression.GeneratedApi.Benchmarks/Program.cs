// The generated class against the same call made directly on InferenceSession. From the repository root:
//   dotnet run -c Release --project bench/Compression.GeneratedApi.Benchmarks [-- BenchmarkDotNet options, e.g. --filter *Bound*]
using BenchmarkDotNet.Running;
using Compression.GeneratedApi.Benchmarks;

BenchmarkSwitcher.FromTypes([typeof(GeneratedApiBenchmarks)]).Run(args.Length == 0 ? ["--filter", "*"] : args);
