namespace Compression.Core;

/// <summary>
/// The codes of errors and warnings a user can cause. Each is listed with its meaning and fix in the README.
/// OCB00xx: the model and the settings; OCB01xx: ONNX Runtime and validation; OCB02xx: warnings.
/// </summary>
public static class DiagnosticCodes
{
    /// <summary>The model file does not exist.</summary>
    public const string ModelNotFound = "OCB0001";

    /// <summary>The model file is not a readable ONNX model.</summary>
    public const string InvalidModel = "OCB0002";

    /// <summary>A setting has a value the compressor does not know.</summary>
    public const string InvalidSetting = "OCB0003";

    /// <summary>An output file could not be written.</summary>
    public const string OutputNotWritten = "OCB0004";

    /// <summary>The model's opset cannot be raised to the version a technique needs.</summary>
    public const string OpsetUpgradeBlocked = "OCB0005";

    /// <summary>The compressed model would exceed protobuf's 2 GiB limit.</summary>
    public const string ModelTooLarge = "OCB0006";

    /// <summary>The model's overrides file cannot be read, is not of the expected shape, or names nodes the model lacks.</summary>
    public const string InvalidOverrides = "OCB0007";

    /// <summary>A weight read by several nodes would be compressed differently for each of them.</summary>
    public const string SharedWeightConflict = "OCB0008";

    /// <summary>The compressor failed on a model its checks at load accepted: a fault in the compressor, reported with a code
    /// rather than as a stack trace.</summary>
    public const string CompressorFault = "OCB0009";

    /// <summary>A JSON report given to write the HTML report from cannot be read, or is not a compression report.</summary>
    public const string InvalidReport = "OCB0010";

    /// <summary>The budget search (Compress=auto) cannot run on this model or with these settings: validation is off, or the
    /// model is too large to search.</summary>
    public const string SearchNotPossible = "OCB0011";

    /// <summary>ONNX Runtime's native library was not found (see OnnxRuntimeLibrary).</summary>
    public const string OnnxRuntimeNotFound = "OCB0100";

    /// <summary>The original model does not load or run in ONNX Runtime, so it cannot be validated.</summary>
    public const string OriginalModelFailsToRun = "OCB0101";

    /// <summary>The compressed model does not load or run in ONNX Runtime.</summary>
    public const string CompressedModelFailsToRun = "OCB0102";

    /// <summary>The validation inputs the user gave do not fit the model.</summary>
    public const string InvalidValidationData = "OCB0103";

    /// <summary>The compressed model missed a gate (accuracy drop, cosine similarity, output error): nothing was written.</summary>
    public const string GateMissed = "OCB0104";

    /// <summary>ONNX Runtime crashed (a signal, a corrupted heap, C++ terminate) loading or running a model in its worker process: nothing was written.</summary>
    public const string OnnxRuntimeCrashed = "OCB0105";

    /// <summary>ONNX Runtime did not finish loading and running the models within ValidationTimeout: nothing was written.</summary>
    public const string ValidationTimedOut = "OCB0106";

    /// <summary>The ONNX Runtime worker process could not be started.</summary>
    public const string WorkerFailed = "OCB0107";

    /// <summary>Warning: validation was turned off.</summary>
    public const string ValidationDisabled = "OCB0200";

    /// <summary>Warning: the settings asked for compression but no tensor qualified.</summary>
    public const string NothingCompressed = "OCB0201";

    /// <summary>Warning: the compressed model missed a gate, and CompressionGate=warn let it be written.</summary>
    public const string GateMissedWarning = "OCB0202";

    /// <summary>Warning: a compression cache entry was not whole (a file changed, truncated or missing); it was removed and
    /// the model compressed again.</summary>
    public const string CacheEntryCorrupt = "OCB0203";

    /// <summary>Warning: the compression cache folder could not be read or written; the model was compressed without it.</summary>
    public const string CacheNotUsable = "OCB0204";

    /// <summary>Warning: the budget search reached SearchTimeLimit; it kept the smallest choice verified so far.</summary>
    public const string SearchTimeLimitReached = "OCB0205";

    /// <summary>Warning: the budget search judged its choice on the samples the refits were fit to (ValidationData is
    /// CalibrationData): the budget holds on those samples, not necessarily beyond them.</summary>
    public const string SearchJudgedOnCalibration = "OCB0206";
}
