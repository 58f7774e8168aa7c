using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Inlet.Notifications;

/// <summary>
/// Signs SNS messages as SNS does: RSA PKCS#1 v1.5 over the canonical string, SHA1 for SignatureVersion 1 and
/// SHA256 for 2. The key pair and its certificate are made once into the data folder; the certificate is served
/// at <c>/SimpleNotificationService-&lt;32 hex&gt;.pem</c>, the file name validators with the strictest pattern accept.
/// </summary>
internal sealed class SnsSigner : IDisposable
{
    private readonly RSA _key;

    private SnsSigner(RSA key, string certificatePem, string fileName)
    {
        _key = key;
        CertificatePem = certificatePem;
        CertificateFileName = fileName;
    }

    public string CertificatePem { get; }

    /// <summary><c>SimpleNotificationService-&lt;32 hex&gt;.pem</c>.</summary>
    public string CertificateFileName { get; }

    public static SnsSigner LoadOrCreate(string directory)
    {
        Directory.CreateDirectory(directory);
        var keyPath = Path.Combine(directory, "sns-signing.key");
        var certPath = Path.Combine(directory, "sns-signing.crt");
        if (!File.Exists(keyPath) || !File.Exists(certPath))
        {
            using var rsa = RSA.Create(2048);
            var request = new CertificateRequest("CN=sns.amazonaws.com, O=Inlet", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
            var now = DateTimeOffset.UtcNow.AddMinutes(-5);
            using var certificate = request.CreateSelfSigned(now, now.AddYears(10));
            File.WriteAllText(certPath, certificate.ExportCertificatePem());
            File.WriteAllText(keyPath, rsa.ExportPkcs8PrivateKeyPem());
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }

        var key = RSA.Create();
        key.ImportFromPem(File.ReadAllText(keyPath));
        var pem = File.ReadAllText(certPath);
        var name = "SimpleNotificationService-" + Convert.ToHexString(SHA256.HashData(Encoding.ASCII.GetBytes(pem)))[..32].ToLowerInvariant() + ".pem";
        return new SnsSigner(key, pem, name);
    }

    public string Sign(string stringToSign, string signatureVersion)
    {
        var algorithm = signatureVersion == "2" ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA1;
        var signature = _key.SignData(Encoding.UTF8.GetBytes(stringToSign), algorithm, RSASignaturePadding.Pkcs1);
        return Convert.ToBase64String(signature);
    }

    public void Dispose() => _key.Dispose();
}
