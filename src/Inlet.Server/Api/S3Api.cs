using System.Buffers;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Xml;
using Inlet.Rules;
using Inlet.Storage;
using Microsoft.AspNetCore.Http;

namespace Inlet.Api;

/// <summary>
/// The S3 REST subset over the blob store's buckets, path-style (<c>/bucket/key</c>) and virtual-hosted
/// (<c>bucket.localhost</c>): ListBuckets, CreateBucket, HeadBucket, GetBucketLocation, ListObjectsV2, GetObject (with ranges),
/// HeadObject, PutObject (plain or aws-chunked bodies), CopyObject and DeleteObject, with S3's XML and errors.
/// </summary>
internal static class S3Api
{
    private const string Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

    public static async Task HandleAsync(HttpContext context, BlobStores blobs, string account, string region)
    {
        var request = context.Request;
        var (bucket, key) = Target(request);
        var store = blobs.Buckets;
        var ct = context.RequestAborted;
        var method = request.Method;
        if (bucket is null)
        {
            if (HttpMethods.IsGet(method))
            {
                await ListBucketsAsync(context, store, account, ct);
                return;
            }

            await S3Errors.WriteAsync(context, "MethodNotAllowed", "The specified method is not allowed against this resource.");
            context.Response.StatusCode = 405;
            return;
        }

        if (!IsValidBucketName(bucket))
        {
            // Checked before the name reaches the store: "..", "a/b" and friends are never paths there.
            await Fail(context, 400, "InvalidBucketName", "The specified bucket is not valid.", bucket);
            return;
        }

        if (key is null && request.Query.ContainsKey("policy"))
        {
            await PolicyAsync(context, store, bucket, ct);
            return;
        }

        if (key is null)
        {
            // The JavaScript SDK adds x-id (the operation's name) to every request; it names no subresource.
            if (HttpMethods.IsPut(method) && request.Query.Keys.Any(k => k != "x-id"))
            {
                // PutBucketAcl, PutBucketNotificationConfiguration, …: not creating the bucket again.
                await Fail(context, 501, "NotImplemented", "A header you provided implies functionality that is not implemented", bucket);
                return;
            }

            if (HttpMethods.IsPut(method))
            {
                if (bucket.Length > 63)
                {
                    await Fail(context, 400, "InvalidBucketName", "The specified bucket is not valid.", bucket);
                    return;
                }

                if (await store.ContainerExistsAsync(bucket, ct))
                {
                    await Fail(context, 409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", bucket);
                    return;
                }

                await store.CreateContainerAsync(bucket, ct);
                context.Response.Headers.Location = "/" + bucket;
                return;
            }

            if (!await store.ContainerExistsAsync(bucket, ct))
            {
                await Fail(context, 404, "NoSuchBucket", "The specified bucket does not exist", bucket);
                return;
            }

            if (HttpMethods.IsHead(method))
            {
                return;
            }

            if (HttpMethods.IsGet(method) && request.Query.ContainsKey("location"))
            {
                // GetBucketLocation: us-east-1 is the empty constraint (S3 API reference, GetBucketLocation). Before,
                // this fell through to ListObjects, which read the whole bucket for a yes.
                await WriteXmlAsync(context, w =>
                {
                    w.WriteStartElement("LocationConstraint", Namespace);
                    w.WriteString(region == "us-east-1" ? string.Empty : region);
                    w.WriteEndElement();
                });
                return;
            }

            if (HttpMethods.IsGet(method))
            {
                await ListObjectsAsync(context, store, bucket, ct);
                return;
            }

            if (HttpMethods.IsDelete(method))
            {
                await foreach (var _ in store.ListAsync(bucket, ct))
                {
                    await Fail(context, 409, "BucketNotEmpty", "The bucket you tried to delete is not empty", bucket);
                    return;
                }

                await store.DeleteContainerAsync(bucket, ct);
                context.Response.StatusCode = 204;
                return;
            }

            await Fail(context, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.", bucket);
            return;
        }

        if (!await store.ContainerExistsAsync(bucket, ct))
        {
            await Fail(context, 404, "NoSuchBucket", "The specified bucket does not exist", bucket);
            return;
        }

        try
        {
            if (HttpMethods.IsPut(method) && request.Headers["x-amz-copy-source"].FirstOrDefault() is { } source)
            {
                await CopyAsync(context, store, source, bucket, key, ct);
            }
            else if (HttpMethods.IsPut(method))
            {
                await PutAsync(context, store, bucket, key, ct);
            }
            else if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method))
            {
                await GetAsync(context, store, bucket, key, ct);
            }
            else if (HttpMethods.IsDelete(method))
            {
                await store.DeleteAsync(bucket, key, ct);
                context.Response.StatusCode = 204;
            }
            else
            {
                await Fail(context, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.", $"/{bucket}/{key}");
            }
        }
        catch (ArgumentException e)
        {
            await Fail(context, 400, "KeyTooLongError", e.Message, $"/{bucket}/{key}");
        }
        catch (Exception e) when (e is InvalidDataException or FormatException)
        {
            // A malformed aws-chunked body: nothing was stored (the write is committed only when whole).
            await Fail(context, 400, "IncompleteBody", $"The request body is not a valid aws-chunked body: {e.Message}", $"/{bucket}/{key}");
        }
    }

    /// <summary>S3's bucket naming rules (with the legacy us-east-1 form), which no path can satisfy.</summary>
    internal static bool IsValidBucketName(string bucket) => bucket.Length <= 255 && ReceiptValidation.CheckBucketName(bucket) is null;

    /// <summary>The bucket named by a virtual host (<c>bucket.example.test</c>); null for path-style requests.</summary>
    internal static string? VirtualBucket(HttpRequest request)
    {
        var host = request.Host.Host;
        return !IPAddress.TryParse(host, out _) && host != "localhost" && host.Contains('.') ? host[..host.IndexOf('.')] : null;
    }

    /// <summary>The bucket and key of a request: from a virtual host (<c>bucket.localhost</c>) or the path.</summary>
    internal static (string? Bucket, string? Key) Target(HttpRequest request)
    {
        var raw = request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? request.Path.Value ?? "/";
        var path = raw.Split('?')[0];
        var bucket = VirtualBucket(request);

        var segments = path.TrimStart('/');
        if (bucket is null)
        {
            if (segments.Length == 0)
            {
                return (null, null);
            }

            var slash = segments.IndexOf('/');
            bucket = Uri.UnescapeDataString(slash < 0 ? segments : segments[..slash]);
            segments = slash < 0 ? string.Empty : segments[(slash + 1)..];
        }

        return (bucket, segments.Length == 0 ? null : Uri.UnescapeDataString(segments));
    }

    private static Task Fail(HttpContext context, int status, string code, string message, string resource)
    {
        context.Response.StatusCode = status;
        return S3Errors.WriteAsync(context, code, message, resource);
    }

    private static async Task ListBucketsAsync(HttpContext context, IBlobStore store, string account, CancellationToken ct)
    {
        var buckets = new List<ContainerInfo>();
        await foreach (var bucket in store.ListContainersAsync(ct))
        {
            buckets.Add(bucket);
        }

        await WriteXmlAsync(context, w =>
        {
            w.WriteStartElement("ListAllMyBucketsResult", Namespace);
            w.WriteStartElement("Owner");
            w.WriteElementString("ID", account);
            w.WriteElementString("DisplayName", "inlet");
            w.WriteEndElement();
            w.WriteStartElement("Buckets");
            foreach (var bucket in buckets)
            {
                w.WriteStartElement("Bucket");
                w.WriteElementString("Name", bucket.Name);
                w.WriteElementString("CreationDate", QueryXml.Timestamp(new DateTimeOffset(bucket.CreatedUtc, TimeSpan.Zero)));
                w.WriteEndElement();
            }

            w.WriteEndElement();
            w.WriteEndElement();
        });
    }

    /// <summary>S3's limit on a bucket policy (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html).</summary>
    private const int MaxPolicySize = 20 * 1024;

    /// <summary>
    /// PutBucketPolicy, GetBucketPolicy and DeleteBucketPolicy. The document is checked as S3 checks its shape and
    /// kept as it was sent; it is not enforced — every request with valid credentials is allowed, as before.
    /// </summary>
    private static async Task PolicyAsync(HttpContext context, IBlobStore store, string bucket, CancellationToken ct)
    {
        var method = context.Request.Method;
        if (!await store.ContainerExistsAsync(bucket, ct))
        {
            await Fail(context, 404, "NoSuchBucket", "The specified bucket does not exist", bucket);
            return;
        }

        try
        {
            if (HttpMethods.IsGet(method))
            {
                if (await store.GetPolicyAsync(bucket, ct) is not { } policy)
                {
                    await Fail(context, 404, "NoSuchBucketPolicy", "The bucket policy does not exist", bucket);
                    return;
                }

                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(policy, ct);
            }
            else if (HttpMethods.IsPut(method))
            {
                using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
                var buffer = new char[MaxPolicySize + 1];
                var length = await reader.ReadBlockAsync(buffer, ct);
                var policy = new string(buffer, 0, length);
                if (CheckPolicy(policy, bucket) is { } problem)
                {
                    await Fail(context, 400, "MalformedPolicy", problem, bucket);
                    return;
                }

                await store.PutPolicyAsync(bucket, policy, ct);
                context.Response.StatusCode = 204;
            }
            else if (HttpMethods.IsDelete(method))
            {
                await store.DeletePolicyAsync(bucket, ct);
                context.Response.StatusCode = 204;
            }
            else
            {
                await Fail(context, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.", bucket);
            }
        }
        catch (Amazon.S3.AmazonS3Exception e) when (e.ErrorCode is not null)
        {
            // A bucket store on a real S3 service judged the policy itself.
            await Fail(context, (int)e.StatusCode, e.ErrorCode, e.Message, bucket);
        }
    }

    /// <summary>
    /// The checks S3 makes of a policy's shape before it stores it: JSON, an object, a Statement whose entries each
    /// have an Allow or Deny Effect, a Principal, an Action, and Resources in this bucket. Null when it passes.
    /// </summary>
    internal static string? CheckPolicy(string policy, string bucket)
    {
        if (Encoding.UTF8.GetByteCount(policy) > MaxPolicySize)
        {
            return "Policy exceeds the maximum allowed document size.";
        }

        if (!policy.TrimStart().StartsWith('{'))
        {
            return "Policies must be valid JSON and the first byte must be '{'";
        }

        System.Text.Json.JsonDocument document;
        try
        {
            document = System.Text.Json.JsonDocument.Parse(policy);
        }
        catch (System.Text.Json.JsonException)
        {
            return "This policy contains invalid Json";
        }

        using (document)
        {
            if (!document.RootElement.TryGetProperty("Statement", out var statement))
            {
                return "Missing required field Statement";
            }

            var statements = statement.ValueKind == System.Text.Json.JsonValueKind.Array ? [.. statement.EnumerateArray()] : new[] { statement };
            foreach (var entry in statements)
            {
                if (entry.ValueKind != System.Text.Json.JsonValueKind.Object)
                {
                    return "This policy contains invalid Json";
                }

                foreach (var field in new[] { "Effect", "Principal", "Action", "Resource" })
                {
                    var alternative = field switch { "Principal" => "NotPrincipal", "Action" => "NotAction", "Resource" => "NotResource", _ => field };
                    if (!entry.TryGetProperty(field, out _) && !entry.TryGetProperty(alternative, out _))
                    {
                        return $"Missing required field {field}";
                    }
                }

                var effect = entry.GetProperty("Effect");
                if (effect.ValueKind != System.Text.Json.JsonValueKind.String || effect.GetString() is not ("Allow" or "Deny"))
                {
                    return $"Invalid effect: {effect}";
                }

                if (entry.TryGetProperty("Resource", out var resource))
                {
                    var resources = resource.ValueKind == System.Text.Json.JsonValueKind.Array ? resource.EnumerateArray().Select(r => r.ToString()) : [resource.ToString()];
                    if (resources.Any(r => !InBucket(r, bucket)))
                    {
                        return "Policy has invalid resource";
                    }
                }
            }
        }

        return null;
    }

    /// <summary>Whether a policy's resource ARN is this bucket or in it; its bucket part may hold * and ? wildcards.</summary>
    private static bool InBucket(string resource, string bucket)
    {
        const string Prefix = "arn:aws:s3:::";
        if (resource == "*")
        {
            return true;
        }

        if (!resource.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var name = resource[Prefix.Length..].Split('/')[0];
        var pattern = "^" + System.Text.RegularExpressions.Regex.Escape(name).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal) + "$";
        return System.Text.RegularExpressions.Regex.IsMatch(bucket, pattern, System.Text.RegularExpressions.RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }

    private static async Task ListObjectsAsync(HttpContext context, IBlobStore store, string bucket, CancellationToken ct)
    {
        var query = context.Request.Query;
        var prefix = query["prefix"].ToString();
        var delimiter = query["delimiter"].ToString();
        var max = int.TryParse(query["max-keys"], NumberStyles.None, CultureInfo.InvariantCulture, out var m) ? Math.Clamp(m, 0, 1000) : 1000;
        var token = query["continuation-token"].ToString();
        var startAfter = query["start-after"].ToString();
        if (token.Length > 0)
        {
            try
            {
                startAfter = Encoding.UTF8.GetString(Convert.FromBase64String(token));
            }
            catch (FormatException)
            {
                await Fail(context, 400, "InvalidArgument", "The continuation token provided is incorrect", "/" + bucket);
                return;
            }
        }
        var contents = new List<BlobInfo>();
        var prefixes = new SortedSet<string>(StringComparer.Ordinal);
        string? last = null;
        var truncated = false;
        await foreach (var blob in store.ListAsync(bucket, ct))
        {
            if (!blob.Key.StartsWith(prefix, StringComparison.Ordinal) || string.CompareOrdinal(blob.Key, startAfter) <= 0)
            {
                continue;
            }

            if (contents.Count + prefixes.Count >= max)
            {
                truncated = true;
                break;
            }

            var rest = blob.Key[prefix.Length..];
            var cut = delimiter.Length > 0 ? rest.IndexOf(delimiter, StringComparison.Ordinal) : -1;
            if (cut >= 0)
            {
                prefixes.Add(prefix + rest[..(cut + delimiter.Length)]);
            }
            else
            {
                contents.Add(blob);
            }

            last = blob.Key;
        }

        await WriteXmlAsync(context, w =>
        {
            w.WriteStartElement("ListBucketResult", Namespace);
            w.WriteElementString("Name", bucket);
            w.WriteElementString("Prefix", prefix);
            if (delimiter.Length > 0)
            {
                w.WriteElementString("Delimiter", delimiter);
            }

            w.WriteElementString("KeyCount", (contents.Count + prefixes.Count).ToString(CultureInfo.InvariantCulture));
            w.WriteElementString("MaxKeys", max.ToString(CultureInfo.InvariantCulture));
            w.WriteElementString("IsTruncated", truncated ? "true" : "false");
            if (token.Length > 0)
            {
                w.WriteElementString("ContinuationToken", token);
            }

            if (truncated && last is not null)
            {
                w.WriteElementString("NextContinuationToken", Convert.ToBase64String(Encoding.UTF8.GetBytes(last)));
            }

            foreach (var blob in contents)
            {
                w.WriteStartElement("Contents");
                w.WriteElementString("Key", blob.Key);
                w.WriteElementString("LastModified", QueryXml.Timestamp(new DateTimeOffset(blob.LastModifiedUtc, TimeSpan.Zero)));
                w.WriteElementString("Size", blob.Size.ToString(CultureInfo.InvariantCulture));
                w.WriteElementString("StorageClass", "STANDARD");
                w.WriteEndElement();
            }

            foreach (var common in prefixes)
            {
                w.WriteStartElement("CommonPrefixes");
                w.WriteElementString("Prefix", common);
                w.WriteEndElement();
            }

            w.WriteEndElement();
        });
    }

    private static async Task GetAsync(HttpContext context, IBlobStore store, string bucket, string key, CancellationToken ct)
    {
        var info = await store.GetInfoAsync(bucket, key, ct);
        await using var stream = info is null ? null : await store.OpenReadAsync(bucket, key, ct);
        if (info is null || stream is null)
        {
            await Fail(context, 404, "NoSuchKey", "The specified key does not exist.", $"/{bucket}/{key}");
            return;
        }

        var response = context.Response;
        response.Headers.ETag = $"\"{Convert.ToHexString(await MD5.HashDataAsync(stream, ct)).ToLowerInvariant()}\"";
        stream.Position = 0;
        response.Headers.LastModified = info.LastModifiedUtc.ToString("R", CultureInfo.InvariantCulture);
        response.Headers.AcceptRanges = "bytes";
        response.ContentType = "application/octet-stream";
        long start = 0;
        var end = info.Size - 1;
        if (context.Request.Headers.Range.FirstOrDefault() is { } range)
        {
            if (!TryParseRange(range, info.Size, out start, out end))
            {
                response.Headers.ContentRange = $"bytes */{info.Size}";
                await Fail(context, 416, "InvalidRange", "The requested range is not satisfiable", $"/{bucket}/{key}");
                return;
            }

            response.StatusCode = 206;
            response.Headers.ContentRange = $"bytes {start}-{end}/{info.Size}";
        }

        response.ContentLength = info.Size == 0 ? 0 : end - start + 1;
        if (HttpMethods.IsHead(context.Request.Method) || info.Size == 0)
        {
            return;
        }

        stream.Position = start;
        var remaining = end - start + 1;
        var buffer = new byte[64 * 1024];
        while (remaining > 0)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), ct);
            if (read == 0)
            {
                break;
            }

            await response.Body.WriteAsync(buffer.AsMemory(0, read), ct);
            remaining -= read;
        }
    }

    /// <summary>One range of RFC 9110 §14.1: <c>bytes=a-b</c>, <c>bytes=a-</c> or <c>bytes=-n</c>.</summary>
    internal static bool TryParseRange(string header, long size, out long start, out long end)
    {
        start = 0;
        end = size - 1;
        if (!header.StartsWith("bytes=", StringComparison.Ordinal) || header.Contains(','))
        {
            return false;
        }

        var spec = header[6..].Split('-');
        if (spec.Length != 2)
        {
            return false;
        }

        if (spec[0].Length == 0)
        {
            if (!long.TryParse(spec[1], NumberStyles.None, CultureInfo.InvariantCulture, out var suffix) || suffix == 0)
            {
                return false;
            }

            start = Math.Max(0, size - suffix);
            return size > 0;
        }

        if (!long.TryParse(spec[0], NumberStyles.None, CultureInfo.InvariantCulture, out start) || start >= size)
        {
            return false;
        }

        if (spec[1].Length > 0)
        {
            if (!long.TryParse(spec[1], NumberStyles.None, CultureInfo.InvariantCulture, out end) || end < start)
            {
                return false;
            }

            end = Math.Min(end, size - 1);
        }

        return true;
    }

    private static async Task PutAsync(HttpContext context, IBlobStore store, string bucket, string key, CancellationToken ct)
    {
        var request = context.Request;
        var chunked = (request.Headers.ContentEncoding.ToString().Contains("aws-chunked", StringComparison.Ordinal))
            || (request.Headers["x-amz-content-sha256"].FirstOrDefault()?.StartsWith("STREAMING-", StringComparison.Ordinal) ?? false);
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        await using (var writer = await store.CreateAsync(bucket, key, ct))
        {
            if (chunked)
            {
                await DecodeChunksAsync(request.Body, writer.Stream, md5, ct);
            }
            else
            {
                var buffer = new byte[64 * 1024];
                int read;
                while ((read = await request.Body.ReadAsync(buffer, ct)) > 0)
                {
                    md5.AppendData(buffer, 0, read);
                    await writer.Stream.WriteAsync(buffer.AsMemory(0, read), ct);
                }
            }

            await writer.CommitAsync(ct);
        }

        context.Response.Headers.ETag = $"\"{Convert.ToHexString(md5.GetHashAndReset()).ToLowerInvariant()}\"";
    }

    /// <summary>
    /// An aws-chunked body: <c>hex-size[;chunk-signature=…]\r\n data \r\n</c> … a zero-size chunk, then optional
    /// trailers. The framing is removed; chunk signatures are not checked (the request's own signature is).
    /// </summary>
    private static async Task DecodeChunksAsync(Stream body, Stream output, IncrementalHash md5, CancellationToken ct)
    {
        var reader = System.IO.Pipelines.PipeReader.Create(body);
        try
        {
            while (true)
            {
                var line = await ReadLineAsync(reader, ct) ?? throw new InvalidDataException("aws-chunked body ended early");
                var sizeText = line.Split(';')[0].Trim();
                var size = long.Parse(sizeText, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    return;
                }

                var remaining = size;
                while (remaining > 0)
                {
                    var result = await reader.ReadAsync(ct);
                    var buffer = result.Buffer;
                    var take = buffer.Slice(0, Math.Min(buffer.Length, remaining));
                    foreach (var segment in take)
                    {
                        md5.AppendData(segment.Span);
                        await output.WriteAsync(segment, ct);
                    }

                    remaining -= take.Length;
                    reader.AdvanceTo(take.End);
                    if (result.IsCompleted && remaining > 0)
                    {
                        throw new InvalidDataException("aws-chunked body ended inside a chunk");
                    }
                }

                await ReadLineAsync(reader, ct);
            }
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    private static async Task<string?> ReadLineAsync(System.IO.Pipelines.PipeReader reader, CancellationToken ct)
    {
        while (true)
        {
            var result = await reader.ReadAsync(ct);
            var buffer = result.Buffer;
            var lf = buffer.PositionOf((byte)'\n');
            if (lf is { } position)
            {
                var line = Encoding.ASCII.GetString(buffer.Slice(0, position).ToArray()).TrimEnd('\r');
                reader.AdvanceTo(buffer.GetPosition(1, position));
                return line;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                return null;
            }
        }
    }

    private static async Task CopyAsync(HttpContext context, IBlobStore store, string source, string bucket, string key, CancellationToken ct)
    {
        var decoded = Uri.UnescapeDataString(source.Split('?')[0]).TrimStart('/');
        var slash = decoded.IndexOf('/');
        if (slash <= 0)
        {
            await Fail(context, 400, "InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey", $"/{bucket}/{key}");
            return;
        }

        var (sourceBucket, sourceKey) = (decoded[..slash], decoded[(slash + 1)..]);
        if (!IsValidBucketName(sourceBucket) || sourceKey.Length == 0)
        {
            await Fail(context, 400, "InvalidArgument", "Invalid copy source object key or bucket name", $"/{bucket}/{key}");
            return;
        }

        byte[] bytes;
        await using (var input = await store.OpenReadAsync(sourceBucket, sourceKey, ct))
        {
            if (input is null)
            {
                await Fail(context, 404, "NoSuchKey", "The specified key does not exist.", $"/{sourceBucket}/{sourceKey}");
                return;
            }

            using var copy = new MemoryStream();
            await input.CopyToAsync(copy, ct);
            bytes = copy.ToArray();
        }

        // Read whole before writing, so that copying an object onto itself (the forwarder does) is safe.
        await using (var writer = await store.CreateAsync(bucket, key, ct))
        {
            await writer.Stream.WriteAsync(bytes, ct);
            await writer.CommitAsync(ct);
        }

        var etag = $"\"{Convert.ToHexString(MD5.HashData(bytes)).ToLowerInvariant()}\"";
        await WriteXmlAsync(context, w =>
        {
            w.WriteStartElement("CopyObjectResult", Namespace);
            w.WriteElementString("LastModified", QueryXml.Timestamp(DateTimeOffset.UtcNow));
            w.WriteElementString("ETag", etag);
            w.WriteEndElement();
        });
    }

    private static async Task WriteXmlAsync(HttpContext context, Action<XmlWriter> body)
    {
        var text = new StringBuilder();
        using (var writer = XmlWriter.Create(text, new XmlWriterSettings { OmitXmlDeclaration = true }))
        {
            body(writer);
        }

        context.Response.ContentType = "application/xml";
        await context.Response.WriteAsync("<?xml version=\"1.0\" encoding=\"UTF-8\"?>" + text, context.RequestAborted);
    }
}
