using Compression.Cli.Tests.Support;

namespace Compression.Cli.Tests;

/// <summary><c>onnx-compress --help</c>: every option, written where the caller asked, exit code 0.</summary>
public sealed class HelpTests
{
    /// <summary>The options the tool documents (README, CompressCommand).</summary>
    private static readonly string[] Options =
    [
        "-o, --output", "-q, --quantize", "--weight-threshold", "-r, --report", "--signature", "--source-name",
        "--no-validate", "--validation-data", "--onnxruntime", "--diagnostic-format", "--help", "--auto", "--write-overrides <FILE>",
    ];

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("-?")]
    public void Help_lists_every_option_on_the_given_output_and_exits_0(string flag)
    {
        CommandResult result = CommandResult.InProcess(flag);

        Assert.Equal(CompressCommand.Success, result.ExitCode);
        Assert.Equal(string.Empty, result.Stderr);
        Assert.Contains("Usage:", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("<model>", result.Stdout, StringComparison.Ordinal);
        Assert.All(Options, option => Assert.Contains(option, result.Stdout, StringComparison.Ordinal));
        Assert.All(Compression.Core.Settings.SettingsCatalog.All, setting => Assert.Contains(setting.OptionName + " <" + setting.HelpName + ">", result.Stdout, StringComparison.Ordinal));
    }

    [Fact]
    public void Help_shows_the_defaults_and_allowed_values()
    {
        CommandResult result = CommandResult.InProcess("--help");

        Assert.Contains("<int8|uint8|int4|uint4|fp16|none>", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("[default: int8]", result.Stdout, StringComparison.Ordinal);
        Assert.Contains($"[default: {Compression.Core.Passes.Quantization.QuantizationSettings.WeightThreshold.Default}]", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("(REQUIRED)", result.StdoutLines.Single(l => l.Contains("--output", StringComparison.Ordinal)), StringComparison.Ordinal);
    }
}
