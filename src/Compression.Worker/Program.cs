// onnx-compress-worker: loads and runs models in ONNX Runtime for the compressor, over standard input and output.
return Compression.Core.Runtime.Isolation.OnnxWorkerServer.Run(args);
