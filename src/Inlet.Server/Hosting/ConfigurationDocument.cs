namespace Inlet.Hosting;

// The shape of inlet.yaml. Section and field names are the AWS APIs' own (PascalCase), so that the output of
// `aws ses describe-active-receipt-rule-set` can be pasted in. These classes only carry what the file says;
// ConfigurationLoader checks it and builds the immutable options.

#pragma warning disable CA1002, CA2227 // YAML binding needs settable lists.

internal sealed class ConfigurationDocument
{
    public string? Region { get; set; }

    public string? AccountId { get; set; }

    public string? DataDirectory { get; set; }

    public SmtpDocument? Smtp { get; set; }

    public HttpDocument? Http { get; set; }

    public List<AccessKeyDocument>? Credentials { get; set; }

    public List<ReceiptFilterDocument>? ReceiptFilters { get; set; }

    public List<ReceiptRuleSetDocument>? ReceiptRuleSets { get; set; }

    public string? ActiveReceiptRuleSet { get; set; }

    /// <summary>With <see cref="Rules"/>: <c>describe-active-receipt-rule-set</c> output pasted as the whole file.</summary>
    public RuleSetMetadataDocument? Metadata { get; set; }

    public List<ReceiptRuleDocument>? Rules { get; set; }

    public List<string>? Buckets { get; set; }

    /// <summary>Where the S3 action's buckets live: files in the data folder (default) or an S3 service.</summary>
    public BucketStoreDocument? BucketStore { get; set; }

    /// <summary>The state store: embedded SQLite, or PostgreSQL for several nodes.</summary>
    public StateDocument? State { get; set; }

    /// <summary>Where received messages are spooled: files, or a bucket on the BucketStore's S3 service.</summary>
    public SpoolDocument? Spool { get; set; }

    public ProcessingDocument? Processing { get; set; }

    public OutboundDocument? Outbound { get; set; }

    /// <summary>Lambda functions, in the CreateFunction shape.</summary>
    public List<FunctionDocument>? Functions { get; set; }

    /// <summary>How function environments are run.</summary>
    public FunctionsDocument? FunctionSettings { get; set; }

    /// <summary>SNS topics and their subscriptions.</summary>
    public List<TopicDocument>? Topics { get; set; }

    public NotificationsDocument? Notifications { get; set; }

    /// <summary>SES sending identities: domains and email addresses.</summary>
    public List<string>? Identities { get; set; }
    public AuthenticationDocument? Authentication { get; set; }
}

internal sealed class AuthenticationDocument
{
    /// <summary><c>address[:port]</c> of each resolver; the port defaults to 53.</summary>
    public List<string>? DnsServers { get; set; }

    public string? Spamd { get; set; }

    public double? SpamThreshold { get; set; }

    public string? Clamd { get; set; }

    public string? PublicSuffixList { get; set; }
}

internal sealed class SmtpDocument
{
    public string? Listen { get; set; }

    public string? Mode { get; set; }

    public string? Hostname { get; set; }

    public long? MaxMessageSize { get; set; }

    public int? MaxRecipients { get; set; }

    public int? MaxCommandLineLength { get; set; }

    public int? MaxLineLength { get; set; }

    public int? MaxHeaderSize { get; set; }

    /// <summary>Seconds.</summary>
    public double? CommandTimeout { get; set; }

    /// <summary>Seconds.</summary>
    public double? DataTimeout { get; set; }

    public int? MaxBadCommands { get; set; }

    public int? MaxConnections { get; set; }

    public int? MaxConnectionsPerClient { get; set; }

    /// <summary>Octets per second.</summary>
    public double? MinDataRate { get; set; }

    /// <summary>Seconds.</summary>
    public double? MinDataRateGracePeriod { get; set; }

    /// <summary>Seconds.</summary>
    public double? MaxSessionTime { get; set; }

    /// <summary>Seconds.</summary>
    public double? ReclaimIdleAfter { get; set; }

    /// <summary>Octets.</summary>
    public long? MinFreeSpace { get; set; }

    /// <summary>Seconds.</summary>
    public double? InlineTimeout { get; set; }

    public TlsDocument? Tls { get; set; }
}

internal sealed class TlsDocument
{
    public bool? Enabled { get; set; }

    public string? CertificatePath { get; set; }

    public string? KeyPath { get; set; }

    public string? Password { get; set; }
}

internal sealed class HttpDocument
{
    public string? Listen { get; set; }

    /// <summary>The HTTPS endpoint, or "off".</summary>
    public string? HttpsListen { get; set; }

    public List<string>? AllowedHosts { get; set; }

    public string? ConsolePassword { get; set; }
}

internal sealed class AccessKeyDocument
{
    public string? AccessKeyId { get; set; }

    public string? SecretAccessKey { get; set; }
}

internal sealed class ReceiptFilterDocument
{
    public string? Name { get; set; }

    public IpFilterDocument? IpFilter { get; set; }
}

internal sealed class IpFilterDocument
{
    public string? Policy { get; set; }

    public string? Cidr { get; set; }
}

internal sealed class ReceiptRuleSetDocument
{
    public string? RuleSetName { get; set; }

    /// <summary>The DescribeReceiptRuleSet output shape: Metadata.Name instead of RuleSetName.</summary>
    public RuleSetMetadataDocument? Metadata { get; set; }

    public List<ReceiptRuleDocument>? Rules { get; set; }
}

internal sealed class RuleSetMetadataDocument
{
    public string? Name { get; set; }

    public string? CreatedTimestamp { get; set; }
}

internal sealed class ReceiptRuleDocument
{
    public string? Name { get; set; }

    public bool? Enabled { get; set; }

    public string? TlsPolicy { get; set; }

    public List<string>? Recipients { get; set; }

    public bool? ScanEnabled { get; set; }

    public List<ReceiptActionDocument>? Actions { get; set; }
}

internal sealed class ReceiptActionDocument
{
    public Dictionary<string, string?>? S3Action { get; set; }

    public Dictionary<string, string?>? BounceAction { get; set; }

    public Dictionary<string, string?>? LambdaAction { get; set; }

    public Dictionary<string, string?>? SNSAction { get; set; }

    public Dictionary<string, string?>? StopAction { get; set; }

    public Dictionary<string, string?>? AddHeaderAction { get; set; }

    public Dictionary<string, string?>? WorkmailAction { get; set; }

    public Dictionary<string, string?>? ConnectAction { get; set; }
}

internal sealed class StateDocument
{
    /// <summary><c>sqlite</c> or <c>postgres</c>.</summary>
    public string? Type { get; set; }

    public string? ConnectionString { get; set; }

    public string? NodeId { get; set; }

    /// <summary>Seconds.</summary>
    public double? LeaseSeconds { get; set; }

    public double? BucketFlushSeconds { get; set; }
}

internal sealed class SpoolDocument
{
    /// <summary><c>files</c> or <c>s3</c>.</summary>
    public string? Type { get; set; }

    public string? Bucket { get; set; }
}

internal sealed class ProcessingDocument
{
    /// <summary>Seconds.</summary>
    public double? RetryInitialDelay { get; set; }

    /// <summary>Seconds.</summary>
    public double? RetryMaxDelay { get; set; }

    /// <summary>Seconds.</summary>
    public double? RetryMaxAge { get; set; }

    public int? Workers { get; set; }
}

internal sealed class OutboundDocument
{
    public string? Host { get; set; }

    public int? Port { get; set; }

    public string? Security { get; set; }

    public string? Username { get; set; }

    public string? Password { get; set; }

    public bool? AcceptAnyCertificate { get; set; }

    /// <summary>Seconds before the first retry of a message the relay did not take.</summary>
    public double? RetryDelay { get; set; }
}

internal sealed class FunctionDocument
{
    public string? FunctionName { get; set; }

    public string? Runtime { get; set; }

    public string? Handler { get; set; }

    /// <summary>A folder or a .zip file, relative to the configuration file.</summary>
    public string? Code { get; set; }

    /// <summary>For the http runtime.</summary>
    public string? Url { get; set; }

    public int? Timeout { get; set; }

    public int? MemorySize { get; set; }

    public string? Description { get; set; }

    /// <summary>The execution role, as CreateFunction takes it: recorded and reported, not assumed.</summary>
    public string? Role { get; set; }

    public EnvironmentDocument? Environment { get; set; }

    public int? ReservedConcurrentExecutions { get; set; }

    public EventInvokeConfigDocument? EventInvokeConfig { get; set; }
}

internal sealed class EnvironmentDocument
{
    public Dictionary<string, string>? Variables { get; set; }
}

internal sealed class EventInvokeConfigDocument
{
    public int? MaximumRetryAttempts { get; set; }

    public int? MaximumEventAgeInSeconds { get; set; }
}

internal sealed class FunctionsDocument
{
    /// <summary>Environments per function when ReservedConcurrentExecutions is not set.</summary>
    public int? DefaultConcurrency { get; set; }

    /// <summary>Seconds an idle environment is kept warm.</summary>
    public double? IdleTimeout { get; set; }

    /// <summary>Invocations an environment runs before a new one replaces it.</summary>
    public int? EnvironmentMaxInvocations { get; set; }

    /// <summary>The node executable for nodejs runtimes.</summary>
    public string? NodePath { get; set; }

    /// <summary>The Python interpreter for python3.x runtimes.</summary>
    public string? PythonPath { get; set; }

    /// <summary>Seconds before the first retry of a failed asynchronous invocation (Lambda: 60; the second waits twice as long).</summary>
    public double? AsyncRetryDelay { get; set; }

    /// <summary>The user functions run as when Inlet is root (default nobody), or off.</summary>
    public string? RunAs { get; set; }

    /// <summary>DataPlane (default) or All: what a function's temporary credentials may do.</summary>
    public string? CredentialScope { get; set; }
}

internal sealed class TopicDocument
{
    public string? Name { get; set; }

    public string? DisplayName { get; set; }

    public string? SignatureVersion { get; set; }

    /// <summary>SNS's JSON delivery policy, as a string.</summary>
    public string? DeliveryPolicy { get; set; }

    public List<SubscriptionDocument>? Subscriptions { get; set; }
}

internal sealed class SubscriptionDocument
{
    public string? Protocol { get; set; }

    public string? Endpoint { get; set; }

    public bool? RawMessageDelivery { get; set; }
}

internal sealed class NotificationsDocument
{
    public string? BaseUrl { get; set; }

    public bool? AcceptAnyCertificate { get; set; }

    /// <summary>Seconds.</summary>
    public double? RequestTimeout { get; set; }
}

internal sealed class BucketStoreDocument
{
    /// <summary><c>files</c> or <c>s3</c>.</summary>
    public string? Type { get; set; }

    public string? ServiceUrl { get; set; }

    public string? Region { get; set; }

    public string? AccessKeyId { get; set; }

    public string? SecretAccessKey { get; set; }

    public bool? ForcePathStyle { get; set; }
}
