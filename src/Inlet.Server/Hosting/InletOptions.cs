using System.Collections.Immutable;
using Inlet.Functions;
using Inlet.Notifications;
using Inlet.Outbound;
using Inlet.Processing;
using Inlet.Rules;
using Inlet.Smtp;

namespace Inlet.Hosting;

/// <summary>All of Inlet's settings, validated. Built from <c>inlet.yaml</c> by <see cref="ConfigurationLoader"/>.</summary>
internal sealed record InletOptions
{
    public string Region { get; init; } = "us-east-1";

    public string AccountId { get; init; } = "000000000000";

    /// <summary>Where the database, the spool, the buckets and the certificates live.</summary>
    public string DataDirectory { get; init; } = "./inlet-data";

    public SmtpOptions Smtp { get; init; } = new();

    public HttpOptions Http { get; init; } = new();

    /// <summary>Access keys accepted by the AWS APIs (Signature Version 4).</summary>
    public ImmutableArray<AccessKey> Credentials { get; init; } = [new AccessKey("inlet", "inlet-secret")];

    /// <summary>Rule sets, the active one and IP filters, as declared in the file.</summary>
    public ReceiptConfiguration Receipt { get; init; } = ReceiptConfiguration.Empty;

    /// <summary>Whether the file named ActiveReceiptRuleSet itself (rather than it being implied by a single rule set).</summary>
    public bool ActiveReceiptRuleSetDeclared { get; init; }

    /// <summary>Buckets of the blob store made at start (those named by S3 actions of the file are made too).</summary>
    public ImmutableArray<string> Buckets { get; init; } = [];

    /// <summary>An S3 service for the buckets, instead of files in the data folder.</summary>
    public Inlet.Storage.S3StoreOptions? BucketStore { get; init; }

    /// <summary>The state store (embedded SQLite, or PostgreSQL shared by several nodes) and this node's part in it.</summary>
    public Inlet.Storage.StateOptions State { get; init; } = new();

    /// <summary>Where received messages are spooled.</summary>
    public Inlet.Storage.SpoolOptions Spool { get; init; } = new();

    public ProcessingOptions Processing { get; init; } = new();

    public OutboundOptions Outbound { get; init; } = new();

    /// <summary>Functions declared in the file.</summary>
    public ImmutableArray<FunctionDeclaration> Functions { get; init; } = [];

    public FunctionsOptions FunctionSettings { get; init; } = new();

    public ImmutableArray<TopicDeclaration> Topics { get; init; } = [];

    public SnsOptions Notifications { get; init; } = new();

    /// <summary>DNS resolvers, scanners and the Public Suffix List behind the verdicts.</summary>
    public Inlet.Authentication.AuthenticationOptions Authentication { get; init; } = new();

    /// <summary>The file these options were read from, if any; <c>inlet serve</c> watches it and applies changes.</summary>
    public string? SourceFile { get; init; }

    /// <summary>The account the AWS APIs answer as, without the rest of the settings.</summary>
    public AwsAccount Account => new(Region, AccountId, Credentials);

    /// <summary>SES sending identities (domains and addresses) beyond the receiving rules' recipients.</summary>
    public ImmutableArray<string> Identities { get; init; } = [];
}

internal sealed record HttpOptions
{
    /// <summary>Address and port of the HTTP endpoint (health, API); port 0 picks a free port.</summary>
    public string Listen { get; init; } = "127.0.0.1:8025";

    /// <summary>The same endpoint over HTTPS (SNS signing certificates, SubscribeURL); <c>off</c> to go without.</summary>
    public string HttpsListen { get; init; } = "127.0.0.1:8026";

    /// <summary>Host names the endpoint answers for besides localhost, its listen addresses and Smtp.Hostname (subdomains included).</summary>
    public ImmutableArray<string> AllowedHosts { get; init; } = [];

    /// <summary>
    /// The password of HTTP Basic for <c>/api</c> and the console when the endpoint listens beyond loopback (any user
    /// name); without it those take Signature Version 4 only.
    /// </summary>
    public string? ConsolePassword { get; init; }

    /// <summary>By value, the host list too, so that reading the same file twice gives equal options.</summary>
    public bool Equals(HttpOptions? other) =>
        other is not null && Listen == other.Listen && HttpsListen == other.HttpsListen && ConsolePassword == other.ConsolePassword
        && AllowedHosts.SequenceEqual(other.AllowedHosts, StringComparer.Ordinal);

    public override int GetHashCode() => HashCode.Combine(Listen, HttpsListen, ConsolePassword, AllowedHosts.Length);
}
