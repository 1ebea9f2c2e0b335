export { CronTrigger, type CrontabOptions } from './trigger.js';
