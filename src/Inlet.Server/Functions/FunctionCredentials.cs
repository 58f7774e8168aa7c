using System.Collections.Concurrent;
using System.Security.Cryptography;
using Inlet.Storage;

namespace Inlet.Functions;

/// <summary>
/// Who an AWS request comes from when it is signed with a function's temporary credentials: the function, the
/// role it assumed, and the environment it runs in (so that a call is linked to the invocation running there).
/// </summary>
internal sealed class FunctionPrincipal
{
    public required string FunctionName { get; init; }

    public required string RoleArn { get; init; }

    /// <summary><c>arn:aws:sts::{account}:assumed-role/{role name}/{function}</c>, what GetCallerIdentity returns in Lambda.</summary>
    public required string AssumedRoleArn { get; init; }

    /// <summary><c>AROA…:{function}</c>, GetCallerIdentity's UserId for an assumed role.</summary>
    public required string UserId { get; init; }

    public required string AccessKeyId { get; init; }

    public required string SecretAccessKey { get; init; }

    public required string SessionToken { get; init; }

    public required DateTimeOffset Expiration { get; init; }

    /// <summary>The invocation the environment is running now, if any.</summary>
    public required Func<Invocation?> CurrentInvocation { get; init; }
}

/// <summary>
/// Mints the temporary credentials each execution environment gets, as Lambda gives a function its role's
/// session: <c>ASIA…</c> access keys with a secret and a session token, valid for
/// <see cref="Lifetime"/>. They are never Inlet's own configured keys. An environment is retired before its
/// credentials expire (<see cref="EnvironmentMaxAge"/>), so a new one gets fresh keys, as Lambda renews them.
/// </summary>
internal sealed class FunctionCredentials(TimeProvider time)
{
    /// <summary>Lambda's role sessions last up to 12 hours.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);

    public static readonly TimeSpan EnvironmentMaxAge = TimeSpan.FromHours(11);

    private const string Base32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    private readonly ConcurrentDictionary<string, FunctionPrincipal> _issued = new(StringComparer.Ordinal);

    public FunctionPrincipal Issue(FunctionDefinition function, string account, Func<Invocation?> currentInvocation)
    {
        var role = function.Role ?? FunctionDefinition.DefaultRoleFor(account);
        var roleName = role[(role.LastIndexOf('/') + 1)..];
        var principal = new FunctionPrincipal
        {
            FunctionName = function.FunctionName,
            RoleArn = role,
            AssumedRoleArn = $"arn:aws:sts::{account}:assumed-role/{roleName}/{function.FunctionName}",
            UserId = "AROA" + Random(17) + ":" + function.FunctionName,
            AccessKeyId = "ASIA" + Random(16),
            SecretAccessKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(30)),
            SessionToken = Convert.ToBase64String(RandomNumberGenerator.GetBytes(96)),
            Expiration = time.GetUtcNow() + Lifetime,
            CurrentInvocation = currentInvocation,
        };
        _issued[principal.AccessKeyId] = principal;
        return principal;
    }

    /// <summary>The principal of an access key Inlet issued, whether or not it has expired.</summary>
    public FunctionPrincipal? Find(string accessKeyId) => _issued.TryGetValue(accessKeyId, out var principal) ? principal : null;

    public bool IsExpired(FunctionPrincipal principal) => time.GetUtcNow() >= principal.Expiration;

    /// <summary>An environment that ended takes its credentials with it.</summary>
    public void Revoke(string accessKeyId) => _issued.TryRemove(accessKeyId, out _);

    private static string Random(int length)
    {
        var bytes = RandomNumberGenerator.GetBytes(length);
        return string.Create(length, bytes, (span, b) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = Base32[b[i] % 32];
            }
        });
    }
}
