using Compression.Cli;

return CompressCommand.Run(args, Console.Out, Console.Error);
