/**
 * HTTPS egress to Secrets Manager for the functions that call it (bootstrap, both rotations, and the query
 * function in secret mode), in each kind of VPC a user brings:
 * - the kit's VPC (its own interface endpoint),
 * - an existing VPC with a Secrets Manager interface endpoint under any construct id (found by its service),
 *   or passed as `secretsManagerEndpoint`,
 * - an existing VPC with NAT and no endpoint: 443 to the public service (0.0.0.0/0 — there is no AWS-managed
 *   prefix list for Secrets Manager).
 */
import { Stack, aws_ec2 as ec2 } from 'aws-cdk-lib';
import { testApp } from '../helpers/app';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { RdsProxyLambda, RdsProxyLambdaProps } from '../../lib/rds-proxy-lambda/rds-proxy-lambda';

const env = { account: '123456789012', region: 'us-east-1' };
const azs = ['us-east-1a', 'us-east-1b'];

type Egress = { group: string; port: number; to: string };

/** Every 443 egress rule of the kit's Secrets Manager callers, as `to` = security group logical id/id or CIDR. */
function httpsEgress(t: Template, pattern: RdsProxyLambda, stack: Stack): Egress[] {
  const id = (sg: ec2.ISecurityGroup) => stack.getLogicalId(sg.node.defaultChild as any);
  const callers = ['RotationSecurityGroup', 'BootstrapSecurityGroup', 'FunctionSecurityGroup'].map((n) => pattern.node.findChild(n) as ec2.SecurityGroup);
  const callerIds = new Map(callers.map((sg) => [id(sg), sg.node.id]));
  const out: Egress[] = [];
  const ref = (v: any): string => (typeof v === 'string' ? v : v?.['Fn::GetAtt']?.[0] ?? v?.Ref ?? JSON.stringify(v));
  for (const r of Object.values(t.findResources('AWS::EC2::SecurityGroupEgress')) as any[]) {
    const p = r.Properties;
    const g = callerIds.get(ref(p.GroupId));
    if (g && p.FromPort === 443) out.push({ group: g, port: 443, to: p.CidrIp ?? p.DestinationPrefixListId ?? ref(p.DestinationSecurityGroupId) });
  }
  for (const [lid, r] of Object.entries(t.findResources('AWS::EC2::SecurityGroup')) as any) {
    const g = callerIds.get(lid);
    for (const e of r.Properties.SecurityGroupEgress ?? []) {
      if (g && e.FromPort === 443) out.push({ group: g, port: 443, to: e.CidrIp ?? e.DestinationPrefixListId ?? ref(e.DestinationSecurityGroupId) });
    }
  }
  return out.sort((a, b) => `${a.group}${a.to}`.localeCompare(`${b.group}${b.to}`));
}

function build(makeVpc: (stack: Stack) => { vpc: ec2.IVpc; extra?: Partial<RdsProxyLambdaProps> }, props: Partial<RdsProxyLambdaProps> = {}) {
  const stack = new Stack(testApp(), 'Egress', { env });
  const { vpc, extra } = makeVpc(stack);
  const pattern = new RdsProxyLambda(stack, 'P', { existingVpc: vpc, ...extra, ...props });
  return { stack, pattern, t: Template.fromStack(stack) };
}

/** A VPC with public + private-with-egress subnets and one NAT gateway, as many accounts have. */
function natVpc(stack: Stack): ec2.Vpc {
  return new ec2.Vpc(stack, 'Vpc', {
    availabilityZones: azs,
    natGateways: 1,
    subnetConfiguration: [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    ],
  });
}

test('kit VPC: 443 only to the kit endpoint security group, never to a CIDR', () => {
  const stack = new Stack(testApp(), 'Kit', { env });
  const pattern = new RdsProxyLambda(stack, 'P', { availabilityZones: azs, credentialMode: 'secret' });
  const t = Template.fromStack(stack);
  const endpointSg = stack.getLogicalId(pattern.node.findChild('EndpointSecurityGroup').node.defaultChild as any);
  expect(httpsEgress(t, pattern, stack)).toEqual([
    { group: 'BootstrapSecurityGroup', port: 443, to: endpointSg },
    { group: 'FunctionSecurityGroup', port: 443, to: endpointSg },
    { group: 'RotationSecurityGroup', port: 443, to: endpointSg },
  ]);
});

test('existing VPC whose Secrets Manager endpoint has another construct id: found by its service; a decoy KMS endpoint named SecretsManagerEndpoint is not taken', () => {
  let smSg!: ec2.SecurityGroup;
  const { stack, pattern, t } = build(
    (s) => {
      const vpc = natVpc(s);
      // A decoy: an endpoint of ANOTHER service under the id the old code looked for.
      vpc.addInterfaceEndpoint('SecretsManagerEndpoint', { service: ec2.InterfaceVpcEndpointAwsService.KMS, open: false });
      smSg = new ec2.SecurityGroup(s, 'SmSg', { vpc, allowAllOutbound: false });
      new ec2.InterfaceVpcEndpoint(s, 'TeamSecretsEndpoint', { vpc, service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER, securityGroups: [smSg], open: false });
      return { vpc };
    },
    { credentialMode: 'secret' },
  );
  const sm = stack.getLogicalId(smSg.node.defaultChild as any);
  expect(httpsEgress(t, pattern, stack)).toEqual([
    { group: 'BootstrapSecurityGroup', port: 443, to: sm },
    { group: 'FunctionSecurityGroup', port: 443, to: sm },
    { group: 'RotationSecurityGroup', port: 443, to: sm },
  ]);
  // The endpoint admits the three callers on 443.
  const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')).map((r: any) => r.Properties).filter((p) => p.GroupId['Fn::GetAtt']?.[0] === sm);
  expect(ingress).toHaveLength(3);
  for (const i of ingress) expect(i).toMatchObject({ FromPort: 443, ToPort: 443 });
  // The rotation functions are told the endpoint's DNS name is not needed (private DNS), but they get the SG path.
  t.hasResourceProperties('AWS::Serverless::Application', { Parameters: Match.objectLike({ vpcSecurityGroupIds: Match.anyValue() }) });
});

test('existing VPC with an imported endpoint passed as secretsManagerEndpoint: 443 to its security group id', () => {
  const { stack, pattern, t } = build(
    (s) => {
      const vpc = ec2.Vpc.fromVpcAttributes(s, 'V', { vpcId: 'vpc-0123456789abcdef0', vpcCidrBlock: '10.1.0.0/16', availabilityZones: azs, privateSubnetIds: ['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002'] });
      const endpoint = ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(s, 'E', {
        vpcEndpointId: 'vpce-0123456789abcdef0',
        port: 443,
        securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(s, 'ESg', 'sg-0aaaaaaaaaaaaaaaa')],
      });
      return { vpc, extra: { secretsManagerEndpoint: endpoint } };
    },
  );
  expect(httpsEgress(t, pattern, stack)).toEqual([
    { group: 'BootstrapSecurityGroup', port: 443, to: 'sg-0aaaaaaaaaaaaaaaa' },
    { group: 'RotationSecurityGroup', port: 443, to: 'sg-0aaaaaaaaaaaaaaaa' },
  ]);
});

test('existing VPC with NAT and no endpoint: 443 to the Secrets Manager service through NAT (0.0.0.0/0), not the VPC CIDR', () => {
  const { stack, pattern, t } = build((s) => ({ vpc: natVpc(s) }), { credentialMode: 'secret' });
  expect(httpsEgress(t, pattern, stack)).toEqual([
    { group: 'BootstrapSecurityGroup', port: 443, to: '0.0.0.0/0' },
    { group: 'FunctionSecurityGroup', port: 443, to: '0.0.0.0/0' },
    { group: 'RotationSecurityGroup', port: 443, to: '0.0.0.0/0' },
  ]);
  // Nothing but 443 goes to the internet.
  const all = JSON.stringify(t.findResources('AWS::EC2::SecurityGroupEgress')) + JSON.stringify(t.findResources('AWS::EC2::SecurityGroup'));
  for (const m of all.matchAll(/"CidrIp":"0\.0\.0\.0\/0"[^}]*/g)) expect(m[0]).toMatch(/"FromPort":443|443/);
  expect(Annotations.fromStack(stack).findInfo('*', Match.stringLikeRegexp('no Secrets Manager interface endpoint')).length).toBe(1);
});

test('existing VPC with only isolated subnets and no endpoint: synth warns that Secrets Manager is unreachable', () => {
  const stack = new Stack(testApp(), 'Iso', { env });
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'V', { vpcId: 'vpc-0123456789abcdef0', vpcCidrBlock: '10.1.0.0/16', availabilityZones: azs, isolatedSubnetIds: ['subnet-0a1b2c3d4e5f60003', 'subnet-0a1b2c3d4e5f60004'] });
  new RdsProxyLambda(stack, 'P', { existingVpc: vpc });
  expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('isolated subnets have no route')).length).toBe(1);
});
