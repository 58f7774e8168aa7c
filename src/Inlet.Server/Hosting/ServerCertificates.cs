using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Inlet.Hosting;

/// <summary>
/// The certificates of the data folder: a local CA, and a server certificate it signed for <c>localhost</c>,
/// <c>127.0.0.1</c>, <c>::1</c> and the configured host name. Made on first start and kept as PEM files, so that
/// clients can trust <c>tls/ca.crt</c> once.
/// </summary>
internal static class ServerCertificates
{
    public static (X509Certificate2 Server, X509Certificate2 Authority) LoadOrCreate(string directory, string hostname)
    {
        Directory.CreateDirectory(directory);
        var caCert = Path.Combine(directory, "ca.crt");
        var caKey = Path.Combine(directory, "ca.key");
        var serverCert = Path.Combine(directory, "server.crt");
        var serverKey = Path.Combine(directory, "server.key");
        if (File.Exists(caCert) && File.Exists(caKey) && File.Exists(serverCert) && File.Exists(serverKey))
        {
            return (X509Certificate2.CreateFromPemFile(serverCert, serverKey), X509Certificate2.CreateFromPemFile(caCert, caKey));
        }

        var now = DateTimeOffset.UtcNow.AddMinutes(-5);
        using var authorityKey = RSA.Create(2048);
        var authorityRequest = new CertificateRequest("CN=Inlet Local CA, O=Inlet", authorityKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        authorityRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        authorityRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        authorityRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(authorityRequest.PublicKey, false));
        var authority = authorityRequest.CreateSelfSigned(now, now.AddYears(10));

        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={hostname}, O=Inlet", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var dns in new[] { "localhost", hostname }.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            names.AddDnsName(dns);
        }

        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var signed = request.Create(authority, now, now.AddYears(2), serial);

        File.WriteAllText(caCert, authority.ExportCertificatePem());
        WritePrivate(caKey, authorityKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(serverCert, signed.ExportCertificatePem());
        WritePrivate(serverKey, key.ExportPkcs8PrivateKeyPem());
        return (X509Certificate2.CreateFromPemFile(serverCert, serverKey), X509Certificate2.CreateFromPemFile(caCert, caKey));
    }

    /// <summary>A certificate named in the configuration: PEM with a key file, or PFX/PKCS#12.</summary>
    public static X509Certificate2 LoadConfigured(string certificatePath, string? keyPath, string? password) =>
        keyPath is not null
            ? X509Certificate2.CreateFromPemFile(certificatePath, keyPath)
            : X509CertificateLoader.LoadPkcs12FromFile(certificatePath, password);

    private static void WritePrivate(string path, string pem)
    {
        File.WriteAllText(path, pem);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}
