namespace Inlet.Api;

/// <summary>How large a request body may be, by where it goes, and the service name of Inlet's own signed API.</summary>
internal static class HttpLimits
{
    /// <summary>Any other request body: far above what a management call or an invocation carries.</summary>
    public const long DefaultBodyLimit = 8L * 1024 * 1024;

    /// <summary>A Query request can carry SendRawEmail's message, base64 and form-encoded.</summary>
    public const long QueryBodyLimit = 64L * 1024 * 1024;

    /// <summary>A Query form of any other action (checked as it streams, by the action at its start).</summary>
    public const long QueryFormBodyLimit = 8L * 1024 * 1024;

    /// <summary>Where a smaller limit decided while the body streamed is left for the 413's message.</summary>
    public const string BodyLimitItem = "Inlet.BodyLimit";

    /// <summary>CreateFunction and UpdateFunctionCode: Lambda's 50 MB zip, in base64, in JSON.</summary>
    public const long FunctionCodeBodyLimit = 70L * 1024 * 1024;

    /// <summary>The service name in the credential scope of Inlet's own API.</summary>
    public const string InletService = "inlet";
}
