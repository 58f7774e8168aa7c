using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Inlet.Storage;

namespace Inlet.Functions;

/// <summary>
/// The functions Inlet knows, and Lambda's way of naming them: a name (<c>my-function</c>), a full ARN, a partial
/// ARN (<c>123456789012:function:my-function</c>), each optionally with a qualifier (<c>:$LATEST</c>).
/// </summary>
internal sealed partial class FunctionRegistry(string region, string account)
{
    private readonly ConcurrentDictionary<string, FunctionDefinition> _functions = new(StringComparer.Ordinal);

    public string Region { get; } = region;

    public string Account { get; } = account;

    public event Action<FunctionDefinition>? Changed;

    public IReadOnlyList<FunctionDefinition> All => [.. _functions.Values.OrderBy(f => f.FunctionName, StringComparer.Ordinal)];

    public void Put(FunctionDefinition function)
    {
        _functions[function.FunctionName] = function;
        Changed?.Invoke(function);
    }

    public bool Remove(string name, out FunctionDefinition? removed)
    {
        var ok = _functions.TryRemove(name, out removed);
        if (ok && removed is not null)
        {
            Changed?.Invoke(removed);
        }

        return ok;
    }

    [GeneratedRegex(@"^(arn:(aws[a-zA-Z-]*)?:lambda:)?(?<region>[a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(?<account>\d{12}:)?(function:)?(?<name>[a-zA-Z0-9-_\.]+)(:(?<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?$")]
    private static partial Regex FunctionNamePattern();

    /// <summary>Splits a function reference into name and qualifier, or explains why it is not one.</summary>
    public static bool TryParseReference(string reference, out string name, out string? qualifier, out string? error)
    {
        name = string.Empty;
        qualifier = null;
        error = null;
        var match = FunctionNamePattern().Match(reference);
        if (reference.Length is 0 or > 170 || !match.Success)
        {
            error = $"1 validation error detected: Value '{reference}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?";
            return false;
        }

        name = match.Groups["name"].Value;
        qualifier = match.Groups["qualifier"].Success ? match.Groups["qualifier"].Value : null;
        if (name.Length > 64)
        {
            error = $"Function name too long: {name} (at most 64 characters)";
            return false;
        }

        return true;
    }

    /// <summary>Finds a function by any of Lambda's reference forms; null when there is no such function here.</summary>
    public FunctionDefinition? Resolve(string reference, string? qualifier = null)
    {
        if (!TryParseReference(reference, out var name, out var embedded, out _))
        {
            return null;
        }

        var match = FunctionNamePattern().Match(reference);
        var regionPart = match.Groups["region"].Value.TrimEnd(':');
        var accountPart = match.Groups["account"].Value.TrimEnd(':');
        if ((regionPart.Length > 0 && regionPart != Region) || (accountPart.Length > 0 && accountPart != Account))
        {
            return null;
        }

        var q = qualifier ?? embedded;
        if (q is not null && q != "$LATEST")
        {
            return null;
        }

        return _functions.TryGetValue(name, out var function) ? function : null;
    }

    /// <summary>
    /// The full ARN of a reference in any of Lambda's forms (<c>fn</c>, <c>123456789012:function:fn</c>, …), with its
    /// qualifier when it has one; the reference itself when it is not one.
    /// </summary>
    public string FullArn(string reference) =>
        TryParseReference(reference, out var name, out var qualifier, out _)
            ? FunctionDefinition.ArnFor(Region, Account, name) + (qualifier is null ? string.Empty : ":" + qualifier)
            : reference;

    /// <summary>The error message Lambda gives for an unknown function.</summary>
    public string NotFoundMessage(string reference, string? qualifier = null)
    {
        TryParseReference(reference, out var name, out var embedded, out _);
        var q = qualifier ?? embedded;
        return q is null || q == "$LATEST"
            ? $"Function not found: {FunctionDefinition.ArnFor(Region, Account, name)}"
            : $"Function not found: {FunctionDefinition.ArnFor(Region, Account, name)}:{q}";
    }
}
