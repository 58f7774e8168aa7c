namespace Inlet.Outbound;

/// <summary>
/// Message ids in SES's sending format, <c>0100018c2f4e5a6b-6f1c…-000000</c>: <c>0100</c> (us-east-1's prefix), the
/// acceptance time in milliseconds as 12 hex digits, a UUID and <c>-000000</c>. SES sends the message with
/// <c>Message-ID: &lt;id@email.amazonses.com&gt;</c>, replacing any Message-ID the caller gave.
/// </summary>
internal static class SesMessageId
{
    public const string HeaderDomain = "email.amazonses.com";

    public static string New(DateTimeOffset now) => $"0100{now.ToUnixTimeMilliseconds():x12}-{Guid.NewGuid():D}-000000";

    /// <summary>The Message-ID header's value, without its angle brackets (as MimeKit takes it).</summary>
    public static string Header(string id) => $"{id}@{HeaderDomain}";
}
