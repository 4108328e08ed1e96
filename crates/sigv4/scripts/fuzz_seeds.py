#!/usr/bin/env python3
"""Writes the seed corpora of the sigv4_parse and sigv4_chunked fuzz targets
(fuzz/corpus/sigv4_parse, fuzz/corpus/sigv4_chunked).

Provenance: the requests and signatures are AWS's published examples - the SigV4 signing test
suite (awslabs/aws-c-auth tests/aws-signing-test-suite/v4) and the S3 API reference pages
sig-v4-header-based-auth, sigv4-query-string-auth, sigv4-streaming and
sigv4-streaming-trailers (credentials AKIAIOSFODNN7EXAMPLE / AKIDEXAMPLE, 20130524 and
20150830). The unsigned bodies are made here.

    python3 crates/sigv4/scripts/fuzz_seeds.py
"""
import os, struct
root=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'fuzz', 'corpus')
def hdr(mode, declared, step):
    return bytes([mode]) + struct.pack('<I', declared)[:3] + bytes([step])
SIGS=["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648","0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497","b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"]
def doc(sigs, after):
    b=("10000;chunk-signature=%s\r\n"%sigs[0]).encode()+b'a'*65536+("\r\n400;chunk-signature=%s\r\n"%sigs[1]).encode()+b'a'*1024+("\r\n0;chunk-signature=%s\r\n"%sigs[2]).encode()+after
    return b
c=os.path.join(root,'sigv4_chunked')
open(os.path.join(c,'doc_signed'),'wb').write(hdr(1,66560,255)+doc(SIGS,b"\r\n"))
TS=["b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2","1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7","2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"]
# mode 2 (signed trailer) with trailer crc32c: data[0]=2+3*2=8
open(os.path.join(c,'doc_signed_trailer'),'wb').write(hdr(8,66560,200)+doc(TS,b"x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n"))
import zlib, base64
data=b'hello aws-chunked world'*10
crc=base64.b64encode(struct.pack('>I', zlib.crc32(data))).decode()
body=b''
for i in range(0,len(data),64):
    p=data[i:i+64]; body+=b'%x\r\n'%len(p)+p+b'\r\n'
body+=("0\r\nx-amz-checksum-crc32:%s\r\n\r\n"%crc).encode()
open(os.path.join(c,'unsigned_crc32'),'wb').write(hdr(3,len(data),7)+body)  # 3 -> mode 0, trailer idx1 crc32
open(os.path.join(c,'unsigned_no_trailer'),'wb').write(hdr(0,5,1)+b"5\r\nhello\r\n0\r\n\r\n")
p=os.path.join(root,'sigv4_parse')
seeds={
'get_vanilla':"GET /\nhost: example.amazonaws.com\nx-amz-date: 20150830T123600Z\nauthorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\n",
'presigned_s3':"GET /test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404\nhost: examplebucket.s3.amazonaws.com\n",
's3_put':"PUT /test%24file.text\nhost: examplebucket.s3.amazonaws.com\ndate: Fri, 24 May 2013 00:00:00 GMT\nauthorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd\nx-amz-date: 20130524T000000Z\nx-amz-storage-class: REDUCED_REDUNDANCY\nx-amz-content-sha256: 44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n",
's3_streaming':"PUT /examplebucket/chunkObject.txt\nhost: s3.amazonaws.com\nx-amz-date: 20130524T000000Z\nx-amz-storage-class: REDUCED_REDUNDANCY\nauthorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9\nx-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD\ncontent-encoding: aws-chunked\nx-amz-decoded-content-length: 66560\ncontent-length: 66824\n",
'query_order':"GET /?Param2=value2&Param1=value1&%E1%88%B4=a+b&empty=&k\nhost: example.amazonaws.com\nx-amz-date: 20150830T123600Z\nmy-header1: value4\nmy-header1:  a   b  \nauthorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500\nx-amz-security-token: abc\n",
'path_dots':"POST //a/./b/../c%20d//?Action=ListUsers&Version=2010-05-08\nhost: iam.amazonaws.com\nx-amz-date: 20150830T123600Z\nauthorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\n",
}
for k,v in seeds.items():
    open(os.path.join(p,k),'w').write(v)
