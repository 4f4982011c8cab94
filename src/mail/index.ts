export { getMail, inbox, readMail, replyMail, resolveAddress, sendMail, sendMailAsync, toMessage } from './mail.js';
export { MAIL_SIGNAL, type MailMessage, type MailNotice, type SendMailInput } from './types.js';
