using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
#if !COMPRESSION_BUILD_TASKS
using Microsoft.CodeAnalysis.CSharp;
#endif

namespace Compression.Build.Generator;

/// <summary>
/// Turns model file names and tensor names into C# identifiers. The MSBuild tasks compile this file too (with
/// <c>COMPRESSION_BUILD_TASKS</c> defined, without Roslyn, which an MSBuild node does not load), so that the build
/// finds two models that would generate the same class before compressing either, with the generator's own names.
/// </summary>
internal static class CSharpNames
{
    /// <summary>The ending of signature file names.</summary>
    public const string SignatureSuffix = ".signature";

    /// <summary>The ending of the names of the signature files the generator reads.</summary>
    public const string ModelSignatureSuffix = ".onnx" + SignatureSuffix;

    /// <summary>The class name used when a file name has no letters or digits.</summary>
    public const string FallbackClassName = "Model";

    /// <summary>Names of the generated class's own members, which the class itself cannot take (CS0542).</summary>
    private static readonly HashSet<string> ClassMemberNames = new(StringComparer.Ordinal)
    {
        "ModelPath", "Session", "CreateSessionOptions", "Run", "RunAsync", "Bind", "Binding", "Dispose", "Outputs", "InputNames",
        "OutputNames", "RunCore", "RunCancellable", "CheckInputs", "CreateInputs", "CreateStringTensor", "FormatShape", "DisposeAll",
        "DefaultRunOptions", "SessionConfigEntries", "Acquire", "Release", "FreeWhenIdle", "gate", "activeRuns", "disposeRequested", "disposed",
        "TensorView", "RunBatch", "ModelResourceName", "ReadEmbeddedModel", "CreateShapedInputs", "Concatenate", "ElementCount",
    };

    /// <summary>Names an output property cannot take: the enclosing class, its <c>Dispose</c>, and the members of <see cref="object"/>.</summary>
    private static readonly HashSet<string> ReservedPropertyNames = new(StringComparer.Ordinal)
    {
        "Outputs", "Dispose", "Values", "Equals", "GetHashCode", "GetType", "ToString", "MemberwiseClone", "ReferenceEquals", "Finalize",
    };

    /// <summary>True when <paramref name="path"/> names a model signature (<c>*.onnx.signature</c>, any case).</summary>
    public static bool IsModelSignaturePath(string path) => path.EndsWith(ModelSignatureSuffix, StringComparison.OrdinalIgnoreCase);

    /// <summary>The file name of <paramref name="path"/>, with either kind of slash.</summary>
    public static string FileName(string path)
    {
        int slash = Math.Max(path.LastIndexOf('/'), path.LastIndexOf('\\'));
        return path.Substring(slash + 1);
    }

    /// <summary>The model file name of a signature file: <c>digits.onnx</c> for <c>.../digits.onnx.signature</c>.</summary>
    public static string ModelFileName(string signaturePath)
    {
        string name = FileName(signaturePath);
        return name.EndsWith(SignatureSuffix, StringComparison.OrdinalIgnoreCase)
            ? name.Substring(0, name.Length - SignatureSuffix.Length)
            : name;
    }

    /// <summary>
    /// The class name for a model file: its name without <c>.onnx</c> in PascalCase (<c>digits_mlp.onnx</c> gives
    /// <c>DigitsMlp</c>, <c>resnet-50.onnx</c> gives <c>Resnet50</c>), with <c>_</c> in front of a leading digit and
    /// <c>Model</c> after a name that one of the class's members has.
    /// </summary>
    public static string ClassNameForModel(string modelFileName)
    {
        string stem = modelFileName.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)
            ? modelFileName.Substring(0, modelFileName.Length - ".onnx".Length)
            : modelFileName;
        string name = ToPascalCase(stem);
        if (name.Length == 0 || !IsUsableIdentifier(name))
        {
            return FallbackClassName;
        }

        return ClassMemberNames.Contains(name) ? name + FallbackClassName : name;
    }

    /// <summary>Unique, keyword-escaped parameter names for the inputs, in order; never <c>cancellationToken</c>, which
    /// <c>RunAsync</c> takes after them.</summary>
    public static string[] ParameterNames(IReadOnlyList<string> tensorNames)
    {
        var taken = new HashSet<string>(StringComparer.Ordinal) { "cancellationToken" };
        var names = new string[tensorNames.Count];
        for (int i = 0; i < names.Length; i++)
        {
            string name = ToCamelCase(tensorNames[i]);
            names[i] = EscapeKeyword(MakeUnique(name.Length == 0 ? "input" : name, taken));
        }

        return names;
    }

    /// <summary>Unique property names for the outputs, in order; none is the name of the enclosing class or of a member of <see cref="object"/>.</summary>
    public static string[] PropertyNames(IReadOnlyList<string> tensorNames)
    {
        var taken = new HashSet<string>(ReservedPropertyNames, StringComparer.Ordinal);
        var names = new string[tensorNames.Count];
        for (int i = 0; i < names.Length; i++)
        {
            string name = ToPascalCase(tensorNames[i]);
            if (name.Length == 0)
            {
                name = "Output";
            }
            else if (ReservedPropertyNames.Contains(name))
            {
                name += "Output";
            }

            names[i] = EscapeKeyword(MakeUnique(name, taken));
        }

        return names;
    }

    /// <summary>
    /// PascalCase: the words of <paramref name="text"/> (runs of letters and digits; anything else separates them)
    /// each with its first letter upper-cased, joined; <c>_</c> in front when the result starts with a digit.
    /// Empty when the text has no letters or digits.
    /// </summary>
    public static string ToPascalCase(string text)
    {
        var result = new StringBuilder();
        foreach (string word in SplitWords(text))
        {
            result.Append(char.ToUpperInvariant(word[0])).Append(word, 1, word.Length - 1);
        }

        return PrefixIfNeeded(result.ToString());
    }

    /// <summary>
    /// camelCase: like <see cref="ToPascalCase"/>, but the leading capitals of the first word are lower-cased
    /// (<c>XMLHttp</c> gives <c>xmlHttp</c>, <c>IDs</c> gives <c>iDs</c>, <c>input_ids</c> gives <c>inputIds</c>).
    /// </summary>
    public static string ToCamelCase(string text)
    {
        var result = new StringBuilder();
        List<string> words = SplitWords(text);
        for (int w = 0; w < words.Count; w++)
        {
            string word = words[w];
            if (w > 0)
            {
                result.Append(char.ToUpperInvariant(word[0])).Append(word, 1, word.Length - 1);
                continue;
            }

            char[] chars = word.ToCharArray();
            for (int i = 0; i < chars.Length && char.IsUpper(chars[i]); i++)
            {
                // Keep the last capital of a run that starts the next part: XMLHttp -> xmlHttp.
                if (i > 0 && i + 1 < chars.Length && !char.IsUpper(chars[i + 1]))
                {
                    break;
                }

                chars[i] = char.ToLowerInvariant(chars[i]);
            }

            result.Append(chars);
        }

        return PrefixIfNeeded(result.ToString());
    }

    /// <summary>True for a C# identifier that is not a reserved keyword (no <c>@</c> needed).</summary>
    public static bool IsUsableIdentifier(string name) => IsValidIdentifier(name) && !IsKeyword(name);

#if COMPRESSION_BUILD_TASKS
    /// <summary>The reserved C# keywords, as Roslyn's <c>SyntaxFacts.GetKeywordKind</c> knows them.</summary>
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const", "continue",
        "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern", "false", "finally",
        "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface", "internal", "is", "lock", "long",
        "namespace", "new", "null", "object", "operator", "out", "override", "params", "private", "protected", "public",
        "readonly", "ref", "return", "sbyte", "sealed", "short", "sizeof", "stackalloc", "static", "string", "struct", "switch",
        "this", "throw", "true", "try", "typeof", "uint", "ulong", "unchecked", "unsafe", "ushort", "using", "virtual", "void",
        "volatile", "while", "__arglist", "__makeref", "__reftype", "__refvalue",
    };

    /// <summary>True for a reserved C# keyword such as <c>class</c>.</summary>
    public static bool IsKeyword(string name) => Keywords.Contains(name);

    /// <summary>True for a C# identifier (letters, <c>_</c>, then letters, digits, connecting and formatting characters).</summary>
    public static bool IsValidIdentifier(string name)
    {
        if (name.Length == 0 || !IsIdentifierStart(name[0]))
        {
            return false;
        }

        foreach (char c in name)
        {
            UnicodeCategory category = CharUnicodeInfo.GetUnicodeCategory(c);
            bool part = IsLetter(c) || category is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.ConnectorPunctuation
                or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.Format;
            if (!part)
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsIdentifierStart(char c) => c == '_' || IsLetter(c);

    private static bool IsLetter(char c) => CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.UppercaseLetter
        or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter or UnicodeCategory.ModifierLetter
        or UnicodeCategory.OtherLetter or UnicodeCategory.LetterNumber;
#else
    /// <summary>True for a reserved C# keyword such as <c>class</c>.</summary>
    public static bool IsKeyword(string name) => SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None;

    /// <summary>True for a C# identifier, as Roslyn reads it.</summary>
    public static bool IsValidIdentifier(string name) => SyntaxFacts.IsValidIdentifier(name);

    private static bool IsIdentifierStart(char c) => SyntaxFacts.IsIdentifierStartCharacter(c);
#endif

    /// <summary><paramref name="name"/> with <c>@</c> in front when it is a reserved keyword.</summary>
    public static string EscapeKeyword(string name) => IsKeyword(name) ? "@" + name : name;

    /// <summary><paramref name="identifier"/> without a leading <c>@</c>.</summary>
    public static string Unescape(string identifier) => identifier.StartsWith("@", StringComparison.Ordinal) ? identifier.Substring(1) : identifier;

    /// <summary>
    /// <paramref name="name"/>, or it with the first free number 2, 3, ... after it (after a <c>_</c> when the name
    /// ends with a digit: <c>input1_2</c>); the result is added to <paramref name="taken"/>.
    /// </summary>
    public static string MakeUnique(string name, ISet<string> taken)
    {
        if (taken.Add(name))
        {
            return name;
        }

        string stem = name.Length > 0 && char.IsDigit(name[name.Length - 1]) ? name + "_" : name;
        for (int n = 2; ; n++)
        {
            string candidate = stem + n.ToString(CultureInfo.InvariantCulture);
            if (taken.Add(candidate))
            {
                return candidate;
            }
        }
    }

    /// <summary>
    /// Why <paramref name="name"/> cannot name a generated class, or null when it can: it must be a C# identifier
    /// without <c>@</c>, not a keyword, and not the name of one of the class's members.
    /// </summary>
    public static string? ExplainInvalidClassName(string name)
    {
        if (IsKeyword(name))
        {
            return "it is a C# keyword";
        }

        if (!IsValidIdentifier(name))
        {
            return "it is not a C# identifier";
        }

        if (ClassMemberNames.Contains(name))
        {
            return "the generated class has a member of that name";
        }

        return null;
    }

    /// <summary>True when <paramref name="name"/> is dot-separated C# identifiers that are not keywords.</summary>
    public static bool IsValidNamespace(string name)
    {
        string[] parts = name.Split('.');
        if (parts[0] == "global")
        {
            return false;
        }

        foreach (string part in parts)
        {
            if (!IsUsableIdentifier(part))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True when a type of this name draws warning CS8981 (only lower-case ASCII letters).</summary>
    public static bool IsAllLowerCaseAscii(string name)
    {
        foreach (char c in name)
        {
            if (c < 'a' || c > 'z')
            {
                return false;
            }
        }

        return name.Length > 0;
    }

    /// <summary>The words of <paramref name="text"/>: runs of letters, digits and combining marks.</summary>
    private static List<string> SplitWords(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        for (int i = 0; i < text.Length; i++)
        {
            int width = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            UnicodeCategory category = CharUnicodeInfo.GetUnicodeCategory(text, i);
            switch (category)
            {
                case UnicodeCategory.UppercaseLetter:
                case UnicodeCategory.LowercaseLetter:
                case UnicodeCategory.TitlecaseLetter:
                case UnicodeCategory.ModifierLetter:
                case UnicodeCategory.OtherLetter:
                case UnicodeCategory.LetterNumber:
                case UnicodeCategory.DecimalDigitNumber:
                    word.Append(text, i, width);
                    break;
                case UnicodeCategory.NonSpacingMark:
                case UnicodeCategory.SpacingCombiningMark:
                    // A combining mark belongs to the letter before it; it cannot start a word.
                    if (word.Length > 0)
                    {
                        word.Append(text, i, width);
                    }

                    break;
                case UnicodeCategory.Format:
                    // Invisible formatting characters (such as a zero-width joiner) are dropped.
                    break;
                default:
                    if (word.Length > 0)
                    {
                        words.Add(word.ToString());
                        word.Clear();
                    }

                    break;
            }

            i += width - 1;
        }

        if (word.Length > 0)
        {
            words.Add(word.ToString());
        }

        return words;
    }

    private static string PrefixIfNeeded(string name) =>
        name.Length > 0 && !IsIdentifierStart(name[0]) ? "_" + name : name;
}
