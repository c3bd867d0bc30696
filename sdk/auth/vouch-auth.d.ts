// Types of @vouch/auth (dist/vouch-auth.js, the same file vouch serves at /sdk/vouch-auth.js).

/** What an OTP finish step resolves with, as `resultType`. */
export declare const OtpFinishResultType: {
  readonly OnSuccess: 0;
  readonly OnResendOtp: 1;
  readonly OnMobileNumberChange: 2;
};
export type OtpFinishResultType = (typeof OtpFinishResultType)[keyof typeof OtpFinishResultType];

/** What an Instant Link retry step resolves with. */
export declare const InstantLinkResultType: {
  readonly OnResend: 0;
  readonly OnMobileNumberChange: 1;
};
export type InstantLinkResultType = (typeof InstantLinkResultType)[keyof typeof InstantLinkResultType];

/** Every failure of the SDK. */
export declare class VouchAuthError extends Error {
  /** Machine-readable: cancelled, possession_failed, link_expired, network_error, not_configured, … or the server's code. */
  code: string;
  /** The HTTP status when the server answered, else 0. */
  status: number;
}

export interface PhoneNumberInput {
  phoneNumber: string;
}

export interface OtpError {
  /** otp_invalid, otp_expired, otp_required, too_many_sends. */
  code: string;
  message: string;
}

export type OtpFinishResult =
  | { input: { otp: string }; resultType?: 0 }
  | { resultType: 1 | 2; input?: { otp?: string } };

export type OtpStartStepFn = (phoneNumberNeeded: boolean, phoneValidationError?: string) => Promise<PhoneNumberInput | null>;
export type OtpFinishStepFn = (otpError?: OtpError) => Promise<OtpFinishResult>;
export type InstantLinkStartStepFn = (phoneNumberNeeded: boolean, phoneValidationError?: string) => Promise<PhoneNumberInput | null>;
export type InstantLinkRetryStepFn = () => Promise<InstantLinkResultType | { resultType: InstantLinkResultType }>;
export type AuthFinishStepFn<T = unknown> = (input: { authId: string }) => T | Promise<T>;

export interface OtpStartStep { execute: OtpStartStepFn }
export interface OtpFinishStep { execute: OtpFinishStepFn }
export interface InstantLinkStartStep { execute: InstantLinkStartStepFn }
export interface InstantLinkRetryStep { execute: InstantLinkRetryStepFn }
export interface AuthFinishStep<T = unknown> { execute: AuthFinishStepFn<T> }

export declare class Authenticator {
  readonly baseUrl: string;
  isMobileWeb(): boolean;
  authenticate(authToken: string): Promise<unknown>;
}

export declare class AuthenticatorBuilder {
  constructor(options?: { baseUrl?: string });
  isMobileWeb(): boolean;
  withAuthFinishStep(step: AuthFinishStepFn | AuthFinishStep): this;
  withOtpFallback(startStep: OtpStartStepFn | OtpStartStep, finishStep: OtpFinishStepFn | OtpFinishStep): this;
  withInstantLinkFallback(startStep: InstantLinkStartStepFn | InstantLinkStartStep, retryStep?: InstantLinkRetryStepFn | InstantLinkRetryStep): this;
  withMobileAuthImplementation(implementation: 'fetch'): this;
  withRole(role: 'primary' | 'secondary'): this;
  build(): Authenticator;
}

declare const _default: {
  AuthenticatorBuilder: typeof AuthenticatorBuilder;
  Authenticator: typeof Authenticator;
  OtpFinishResultType: typeof OtpFinishResultType;
  InstantLinkResultType: typeof InstantLinkResultType;
  VouchAuthError: typeof VouchAuthError;
};
export default _default;
